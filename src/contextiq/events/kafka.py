"""Kafka bus (aiokafka): keyed by user_id, consumer group `contextiq-worker`, manual commits.

Delivery is at least once on both sides: the outbox relay marks rows sent only after the
broker acknowledged them, and the consumer commits offsets only after the handler
returned. Consumers dedupe by event_id, so neither Kafka transactions nor the idempotent
producer are needed. A failure of the Kafka client tears it down and a fresh one reconnects,
which also recreates the topic on a broker that lost it; a failure of the handler (the
database briefly away) keeps the consumer, and with it the group, and hands the same batch
over again after a backoff.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.partitioner import murmur2

from contextiq.events.base import BusUnavailable, EventBus, Handler
from contextiq.events.kafka_url import parse_kafka_url
from contextiq.events.types import (
    Delivered,
    ImpressionBatch,
    UnknownEvent,
    decode_event,
    decode_records,
)
from contextiq.observability.events import forget_consumer_lag, record_consumer_lag
from contextiq.store.records import OutboxEvent

log = logging.getLogger(__name__)

#: How long reading the lag after an empty poll may hold up the next poll.
_LAG_TIMEOUT_S = 1.0


class _OnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Logs how the group split the partitions, and re-reads partitions with no commit.

    A partition without a committed offset starts from its beginning even if this consumer
    had a position on it before: a broker that lost its log (tansu in memory, a wiped
    cluster) would otherwise be read from a stale offset and skip what came before it.
    Re-reading is safe because the handler dedupes by event_id.
    """

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        #: Partitions handed to this consumer, and taken from it: a batch retried across
        #: either is no longer this consumer's to commit.
        self.assignments = 0
        self.revocations = 0

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.revocations += 1
        log.info("revoked partitions %s", sorted(tp.partition for tp in revoked))
        forget_consumer_lag(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assignments += 1
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))
        fresh = [tp for tp in assigned if await self.consumer.committed(tp) is None]
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)


class KafkaBus(EventBus):
    backend = "kafka"

    def __init__(self, url: str, timeout_ms: int = 5_000, max_records: int = 2_000) -> None:
        self.config = parse_kafka_url(url)
        self.timeout_ms = timeout_ms
        self.max_records = max_records
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()

    async def ensure_topic(self) -> None:
        """Create the topic with enough partitions for the consumer group; no-op if present."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.config.bootstrap, request_timeout_ms=self.timeout_ms
        )
        try:
            async with asyncio.timeout(self.timeout_ms / 1000):
                await admin.start()
                if self.config.topic not in await admin.list_topics():
                    await admin.create_topics(
                        [NewTopic(self.config.topic, self.config.partitions, replication_factor=1)]
                    )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), self.timeout_ms / 1000)

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.config.bootstrap,
                    acks="all",
                    enable_idempotence=False,
                    linger_ms=5,
                    max_batch_size=1 << 20,
                    request_timeout_ms=self.timeout_ms,
                    metadata_max_age_ms=5_000,
                )
                try:
                    await self.ensure_topic()
                    await producer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _drop_producer(self) -> None:
        async with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            # stop() flushes; batches for a broker that is gone would wait for it forever.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self.timeout_ms / 1000)

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        if not events:
            return
        try:
            async with asyncio.timeout(2 * self.timeout_ms / 1000):
                await self._send_all(events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._drop_producer()
            raise BusUnavailable(f"kafka publish failed: {exc!r}") from exc

    async def _send_all(self, events: Sequence[OutboxEvent]) -> None:
        producer = await self._started_producer()
        partitions: list[int] = []
        if any(e.payload.get("type") == ImpressionBatch.type for e in events):
            partitions = sorted(await producer.partitions_for(self.config.topic))
        pending = [
            await producer.send(
                self.config.topic, orjson.dumps(payload), key=key.encode("utf-8"), partition=part
            )
            for e in events
            for part, key, payload in keyed(e, partitions)
        ]
        await asyncio.gather(*pending)

    def _consumer(self) -> tuple[AIOKafkaConsumer, _OnAssignment]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            group_id=self.config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            metadata_max_age_ms=2_000,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            # A group join waits up to the session timeout for the other members.
            request_timeout_ms=max(self.timeout_ms, self.config.session_timeout_ms + 5_000),
        )
        listener = _OnAssignment(consumer)
        consumer.subscribe([self.config.topic], listener=listener)
        return consumer, listener

    async def consume(self, handler: Handler) -> None:
        backoff = 0.5
        while True:
            consumer, listener = self._consumer()
            try:
                with contextlib.suppress(Exception):
                    await self.ensure_topic()
                await consumer.start()
                backoff = 0.5
                await self._consume_with(consumer, listener, handler)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("kafka consumer failed, reconnecting in %.1fs: %r", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                # Stopping revokes nothing through the listener: the next consumer's
                # partitions may be others.
                forget_consumer_lag(tp.partition for tp in consumer.assignment())
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _consume_with(
        self, consumer: AIOKafkaConsumer, listener: _OnAssignment, handler: Handler
    ) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
            try:
                async with asyncio.timeout(_LAG_TIMEOUT_S):
                    await record_consumer_lag(consumer, batches)
            except (TimeoutError, KafkaError) as exc:  # read again after the next poll
                log.debug("consumer lag not read: %r", exc)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            if not await self._handled(handler, decode_records(r.value for r in records), listener):
                continue
            offsets = {tp: rs[-1].offset + 1 for tp, rs in batches.items() if rs}
            try:
                await consumer.commit(offsets)
            except CommitFailedError as exc:
                # A rebalance moved the partitions; the new owner re-reads and dedupes.
                log.info("offset commit skipped after a rebalance: %s", exc)

    async def _handled(
        self, handler: Handler, delivered: list[Delivered], listener: _OnAssignment
    ) -> bool:
        """Hand `delivered` to `handler` until it returns (True), the same batch each time, as
        the dead-letter guard's count of failures in a row expects.

        The consumer stays: reconnecting would cost every worker of the group a rebalance per
        failure. False once the group moved partitions while the batch waited (a rebalance,
        or this consumer left the group after `max_poll_interval_ms` of failures): the batch
        is dropped uncommitted, and each partition is read again from its committed offset by
        whoever owns it now.
        """
        moves = (listener.assignments, listener.revocations)
        backoff = 0.5
        while True:
            try:
                await handler(delivered)
                return True
            except Exception as exc:
                log.warning("handling a batch failed, retrying it in %.1fs: %r", backoff, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            if (listener.assignments, listener.revocations) != moves:
                log.info("partitions moved while a failed batch waited: read again from commits")
                return False

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(2.0):  # health probes must answer quickly
                producer = await self._started_producer()
                await producer.client.fetch_all_metadata()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._drop_producer()
            raise BusUnavailable(f"kafka unreachable: {exc!r}") from exc

    async def close(self) -> None:
        await self._drop_producer()


def keyed(
    event: OutboxEvent, partitions: list[int]
) -> list[tuple[int | None, str, dict[str, Any]]]:
    """(partition, key, payload) to send: an impression batch goes out split by its users'
    partitions (as the default partitioner hashes keys), so each impression stays ahead of
    that user's later interactions; any other event by its own key."""
    batch = None
    if event.payload.get("type") == ImpressionBatch.type:
        with contextlib.suppress(UnknownEvent):  # unreadable: a consumer sets it aside whole
            batch = decode_event(event.payload)
    if not isinstance(batch, ImpressionBatch):
        return [(None, event.key, event.payload)]

    def partition_of(key: str) -> int:
        return partitions[(int(murmur2(key.encode("utf-8"))) & 0x7FFFFFFF) % len(partitions)]

    return [(part, sub.key, sub.to_wire()) for part, sub in batch.split(partition_of).items()]
