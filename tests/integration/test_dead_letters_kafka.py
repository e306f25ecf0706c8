"""A poison event on Kafka: the worker sets it aside after N failed deliveries, commits past
it, and applies what came before and after it, once each (tests/unit/test_dead_letters.py
has the in-process bus, the replay and the erasure)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from contextiq.cache.memory import MemoryCache
from contextiq.domain import Content
from contextiq.events.kafka import KafkaBus
from contextiq.events.relay import OutboxRelay
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.dead_letters import DeadLetterStore
from contextiq.store.store import Store
from contextiq.worker.dead_letters import DeadLetterGuard
from contextiq.worker.processor import EventProcessor, Retrainer
from tests.integration.conftest import Broker, broker, eventually, pg_url  # noqa: F401
from tests.unit.test_dead_letters import AFTER, applied, click, poison

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[Store]:  # noqa: F811
    opened = Store(pg_url)
    await opened.upsert_content([Content("c1", "Title", "news")])
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_poison_event_is_set_aside_and_the_partition_moves_on(
    store: Store,
    broker: Broker,  # noqa: F811
) -> None:
    bus = KafkaBus(broker.url(partitions=1))
    processor = EventProcessor(
        store,
        RecommendationCache(MemoryCache(), 60),
        Retrainer(lambda: asyncio.sleep(0), store, 0, 0),
    )
    letters = DeadLetterStore(store)
    guard = DeadLetterGuard(processor.handle, letters, AFTER)
    relay = OutboxRelay(store, bus)
    before = REGISTRY.get_sample_value(
        "contextiq_events_dead_lettered_total", {"type": "interaction"}
    )
    consumer = asyncio.create_task(bus.consume(guard))
    try:
        await store.record_interactions([click("good-1"), poison("poison")])
        await store.record_interactions([click("good-2")])
        assert await relay.drain_once() == 3

        async def set_aside() -> bool:
            return len(await letters.listed(10)) == 1

        await eventually(set_aside, 60, "the poison event to be set aside")
        [letter] = await letters.listed(10)
        assert (letter.event_id, letter.failures) == ("poison", AFTER)
        assert await applied(store) == ({"good-1", "good-2"}, 2)
        assert (
            REGISTRY.get_sample_value(
                "contextiq_events_dead_lettered_total", {"type": "interaction"}
            )
            == (before or 0) + 1
        )

        await store.record_interactions([click("good-3")])
        assert await relay.drain_once() == 1

        async def moved_on() -> bool:
            return await applied(store) == ({"good-1", "good-2", "good-3"}, 3)

        await eventually(moved_on, 60, "the event after the poison one to be applied")
        # Committed past it: not delivered again, so its dead letter counts AFTER failures.
        assert [d.failures for d in await letters.listed(10)] == [AFTER]
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await bus.close()
