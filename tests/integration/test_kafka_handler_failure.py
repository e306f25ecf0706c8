"""A handler that fails (the database briefly away) against a real broker: the worker keeps
its consumer and its place in the group, and is handed the same batch again."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer

from contextiq.events import kafka, open_bus
from contextiq.events.kafka import KafkaBus
from contextiq.events.types import Delivered
from tests.integration.conftest import Broker, broker, eventually  # noqa: F401
from tests.integration.test_consumer_lag import _event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class _Counted(AIOKafkaConsumer):  # type: ignore[misc]
    """Each consumer the bus makes: a reconnect makes a new one, and joins the group anew."""

    made: ClassVar[list["_Counted"]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Counted.made.append(self)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[_Counted]]:
    monkeypatch.setattr(kafka, "AIOKafkaConsumer", _Counted)
    _Counted.made = []
    yield _Counted.made


async def test_a_failing_handler_gets_the_same_batch_again_on_the_same_consumer(
    broker: Broker,  # noqa: F811
    counted: list[_Counted],
) -> None:
    """Old code tore the consumer down on any handler failure and a new one joined the group:
    a rebalance for every worker per failure."""
    url = broker.url(topic=f"retry-{uuid.uuid4().hex[:8]}", partitions=1)
    producer, bus = open_bus(url), KafkaBus(url)
    deliveries: list[list[str]] = []
    applied: list[str] = []

    async def handler(batch: list[Delivered]) -> None:
        deliveries.append([e.event_id or "" for e in batch])
        if len(deliveries) <= 2:
            raise ConnectionRefusedError("the database is down")
        applied.extend(deliveries[-1])

    task = asyncio.create_task(bus.consume(handler))
    try:
        await producer.publish([_event(n) for n in range(20)])

        async def all_applied() -> bool:
            return len(applied) >= 20

        await eventually(all_applied, 60, "every event to be applied")
        await asyncio.sleep(1)  # nothing comes again once committed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.close()
        await bus.close()
    assert deliveries[0] == deliveries[1] == deliveries[2]
    assert sorted(applied) == sorted(f"lag-{n}" for n in range(20))  # each once
    assert len(counted) == 1
    assert counted[0]._subscription.listener.assignments == 1  # one group join
