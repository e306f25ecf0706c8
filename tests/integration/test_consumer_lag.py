"""Consumer lag and applied events as a worker's scrape shows them, against a real broker."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import generate_latest

from contextiq.domain import Interaction, InteractionType
from contextiq.events import open_bus
from contextiq.events.kafka import KafkaBus
from contextiq.events.types import Delivered, Event, InteractionRecorded
from contextiq.store.records import OutboxEvent
from tests.integration.conftest import Broker, eventually
from tests.observability.scrape import value

pytestmark = pytest.mark.integration


def _event(n: int) -> OutboxEvent:
    interaction = Interaction(
        event_id=f"lag-{n}",
        user_id="u1",
        content_id=f"c{n}",
        interaction_type=InteractionType.VIEW,
        weight=1.0,
        occurred_at=datetime.now(UTC),
        request_id=f"req-{n}",
    )
    return OutboxEvent(id=n, key="u1", payload=InteractionRecorded(interaction).to_wire())


def _lag() -> float:
    return value(generate_latest().decode(), "contextiq_consumer_lag_messages", partition="0")


async def test_lag_falls_to_zero_as_the_worker_catches_up(broker: Broker) -> None:
    url = broker.url(topic=f"lag-{uuid.uuid4().hex[:8]}", partitions=1)
    producer = open_bus(url)
    consumer = KafkaBus(url, max_records=100)
    lags: list[float] = []
    seen: list[Event] = []
    done = asyncio.Event()

    async def handler(batch: list[Event]) -> None:
        lags.append(_lag())
        seen.extend(batch)
        if len(seen) >= 300:
            done.set()

    try:
        await producer.publish([_event(n) for n in range(300)])
        task = asyncio.create_task(consumer.consume(handler))
        await asyncio.wait_for(done.wait(), 60)
        await asyncio.sleep(1.5)  # an empty poll follows: the partition is read to its end
        caught_up = _lag()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await producer.close()
        await consumer.close()
    assert lags[0] == 200  # 300 published, the first 100 fetched
    assert lags == sorted(lags, reverse=True)
    assert caught_up == 0
    # Stopped, it owns no partition: its lag is no longer reported (another worker's is).
    assert 'contextiq_consumer_lag_messages{partition="0"}' not in generate_latest().decode()
    assert seen[0].interaction.request_id == "req-0"  # the request id crossed the broker


async def test_a_poll_that_comes_back_empty_does_not_read_as_caught_up(broker: Broker) -> None:
    """Polls come back empty while a fetch is on its way too (here: the partition is paused):
    the lag is read as the partition's end less the position, before any fetch and after
    one; old code set it to 0 on any empty poll."""
    url = broker.url(topic=f"lag-{uuid.uuid4().hex[:8]}", partitions=1)
    producer = open_bus(url)
    bus = KafkaBus(url, max_records=100)
    consumer, listener = bus._consumer()

    async def nothing(batch: list[Delivered]) -> None:
        raise AssertionError("a paused partition delivers nothing")

    async def lag_after_empty_polls() -> float:
        consumer.pause(*consumer.assignment())
        task = asyncio.create_task(bus._consume_with(consumer, listener, nothing))
        await asyncio.sleep(1.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        consumer.resume(*consumer.assignment())
        return _lag()

    try:
        await producer.publish([_event(n) for n in range(300)])
        # tansu answers a list-offsets request with its last record batch's first offset + 1:
        # a batch of one at the end makes that the end.
        await producer.publish([_event(300)])
        await consumer.start()

        async def assigned() -> bool:
            return bool(consumer.assignment())

        await eventually(assigned, 30, "the partition to be assigned")
        [tp] = consumer.assignment()
        consumer.seek(tp, 0)
        assert await lag_after_empty_polls() == 301
        batch: dict[Any, Any] = {}
        while not batch:
            batch = await consumer.getmany(timeout_ms=500, max_records=100)
        assert len(batch[tp]) == 100 and consumer.highwater(tp) == 301
        assert await lag_after_empty_polls() == 201
    finally:
        await consumer.stop()
        await producer.close()
