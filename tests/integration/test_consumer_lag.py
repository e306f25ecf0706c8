"""Consumer lag and applied events as a worker's scrape shows them, against a real broker."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest

from contextiq.domain import Interaction, InteractionType
from contextiq.events import open_bus
from contextiq.events.kafka import KafkaBus
from contextiq.events.types import Event, InteractionRecorded
from contextiq.store.records import OutboxEvent
from tests.integration.conftest import Broker
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
