"""What only the Redis cache and the Kafka bus do; what every cache or bus does is in
tests/contracts/."""

import asyncio
import logging
from dataclasses import replace

import pytest

from contextiq.cache import CacheUnavailable, open_cache
from contextiq.cache.redis import RedisCache
from contextiq.events import BusUnavailable, open_bus
from contextiq.events.kafka import KafkaBus
from contextiq.events.types import Event
from contextiq.llm.base import Candidate, LikedItem, LLMScore, UserContext
from contextiq.llm.score_cache import ScoreCache, context_hash
from tests.contracts.conftest import outbox
from tests.integration.conftest import Broker, free_port

pytestmark = pytest.mark.integration


async def test_redis_cache_down_raises_cache_unavailable_quickly() -> None:
    cache = open_cache(f"redis://127.0.0.1:{free_port()}/0")
    try:
        for call in (cache.ping(), cache.get("k"), cache.incr("n"), cache.incr_many(["n"])):
            with pytest.raises(CacheUnavailable):
                await asyncio.wait_for(call, 2)
    finally:
        await cache.close()


async def test_language_model_scores_in_redis_survive_more_concurrent_requests_than_connections(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """200 requests at once against a pool of 64: each reads and writes its 20 scores in one
    round trip, and a burst waits for a free connection instead of failing. (The wait is bounded
    by the client's timeout, 0.25 s by default: a loaded test machine can take longer to hand 64
    connections round 200 times, so this client is given seconds.)"""
    cache = RedisCache(redis_url, timeout_seconds=5.0)
    scores = ScoreCache(cache, "local", "m", "v1", 60)
    candidates = [Candidate(f"c{i}", f"Item {i}", "scifi") for i in range(20)]
    user = UserContext("u", (LikedItem("Alien", "scifi"),))

    async def one(n: int) -> int:
        ctx = context_hash(replace(user, recent=(LikedItem(f"Alien {n}", "scifi"),)))
        await scores.put_many(
            ctx, candidates, {c.content_id: LLMScore(0.5, "r") for c in candidates}
        )
        return len(await scores.get_many(ctx, candidates))

    try:
        with caplog.at_level(logging.WARNING, "contextiq.llm.score_cache"):
            found = await asyncio.gather(*(one(n) for n in range(200)))
        assert caplog.messages == []  # a call that timed out: the score cache shrugs it off
        assert found == [20] * 200
        assert await cache.get_many([]) == []
    finally:
        await cache.close()


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


async def test_kafka_consumers_of_a_group_resume_from_its_commits(broker: Broker) -> None:
    url = broker.url(topic="bus-test", partitions=3)
    producer, first, second = open_bus(url), open_bus(url), open_bus(url)
    assert isinstance(first, KafkaBus) and isinstance(second, KafkaBus)
    try:
        await producer.publish(outbox(0, 300))
        seen: list[Event] = []
        await _collect(first, 300, seen)
        assert sorted(e.event_id for e in seen) == sorted(f"e{i}" for i in range(300))
        await producer.publish(outbox(300, 50))
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
            await bus.publish(outbox(0, 1))
        with pytest.raises(BusUnavailable):
            await bus.ping()
    finally:
        await bus.close()
