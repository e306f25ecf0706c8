"""The Redis cache and the Kafka bus against real servers."""

import asyncio
from datetime import UTC, datetime

import pytest

from contextiq.cache import CacheUnavailable, cache_from_url
from contextiq.domain import Interaction, InteractionType
from contextiq.events import BusUnavailable, bus_from_url
from contextiq.events.kafka import KafkaBus, parse_kafka_url
from contextiq.events.types import Event, InteractionRecorded
from contextiq.store.records import OutboxEvent
from tests.integration.conftest import Broker, free_port

pytestmark = pytest.mark.integration


def test_kafka_url_names_hosts_topic_and_group() -> None:
    config = parse_kafka_url("kafka://a:9092,b:9093?topic=clicks&partitions=3")
    assert (config.bootstrap, config.topic, config.partitions) == (
        ["a:9092", "b:9093"],
        "clicks",
        3,
    )
    assert config.group_id == "contextiq-worker"
    with pytest.raises(ValueError):
        parse_kafka_url("kafka://?topic=x")


async def test_redis_cache_stores_expires_and_counts(redis_url: str) -> None:
    cache = cache_from_url(redis_url)
    try:
        await cache.set("k", b"v", ttl_seconds=0.2)
        assert await cache.get("k") == b"v"
        await asyncio.sleep(0.3)
        assert await cache.get("k") is None
        assert await cache.get_int("n") == 0
        assert [await cache.incr("n") for _ in range(3)] == [1, 2, 3]
        await cache.incr_many(["n", "m"])
        assert (await cache.get_int("n"), await cache.get_int("m")) == (4, 1)
        await cache.set("d", b"x", 60)
        await cache.delete("d")
        assert await cache.get("d") is None
        await cache.ping()
    finally:
        await cache.close()


async def test_redis_cache_down_raises_cache_unavailable_quickly() -> None:
    cache = cache_from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        for call in (cache.ping(), cache.get("k"), cache.incr("n"), cache.incr_many(["n"])):
            with pytest.raises(CacheUnavailable):
                await asyncio.wait_for(call, 2)
    finally:
        await cache.close()


def _events(start: int, n: int) -> list[OutboxEvent]:
    def recorded(i: int) -> InteractionRecorded:
        return InteractionRecorded(
            Interaction(f"e{i}", f"u{i % 7}", "c1", InteractionType.VIEW, 1.0, datetime.now(UTC))
        )

    return [
        OutboxEvent(id=i, key=f"u{i % 7}", payload=recorded(i).to_wire())
        for i in range(start, start + n)
    ]


async def _collect(bus: KafkaBus, until: int, seen: list[Event]) -> None:
    enough = asyncio.Event()

    async def handler(batch: list[Event]) -> None:
        seen.extend(batch)
        if len(seen) >= until:
            enough.set()

    task = asyncio.create_task(bus.consume(handler))
    try:
        await asyncio.wait_for(enough.wait(), 60)
        await asyncio.sleep(1.0)  # the commit follows the handler; let it land before stopping
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_kafka_delivers_keyed_events_and_resumes_from_commits(broker: Broker) -> None:
    url = broker.url(topic="bus-test", partitions=3)
    producer, first, second = bus_from_url(url), bus_from_url(url), bus_from_url(url)
    assert isinstance(first, KafkaBus) and isinstance(second, KafkaBus)
    try:
        await producer.publish(_events(0, 300))
        await producer.ping()
        seen: list[Event] = []
        await _collect(first, 300, seen)
        assert sorted(e.event_id for e in seen) == sorted(f"e{i}" for i in range(300))
        await producer.publish(_events(300, 50))
        later: list[Event] = []
        await _collect(second, 50, later)
        # Committed offsets hold across consumers of the group: only the new events arrive.
        assert sorted(e.event_id for e in later) == sorted(f"e{i}" for i in range(300, 350))
    finally:
        for bus in (producer, first, second):
            await bus.close()


async def test_kafka_publish_fails_fast_without_a_broker() -> None:
    bus = KafkaBus(f"kafka://127.0.0.1:{free_port()}?topic=t", timeout_ms=1_000)
    try:
        with pytest.raises(BusUnavailable):
            await bus.publish(_events(0, 1))
        with pytest.raises(BusUnavailable):
            await bus.ping()
    finally:
        await bus.close()
