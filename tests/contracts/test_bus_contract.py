"""What every event bus promises the outbox relay and the worker.

Delivery is at least once: a batch whose handler failed comes again, either because `publish`
raised (in process, the relay keeps the rows and publishes them again) or because the broker
redelivers what was never acknowledged. Consumers dedupe by `event_id`, so both are fine. A
payload this version cannot read is delivered too, as `Unreadable`, for the worker to set aside.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from contextiq.events import BUSES, BusUnavailable, EventBus, open_bus
from contextiq.events.types import Delivered, InteractionRecorded, Unreadable
from contextiq.store.records import OutboxEvent
from tests.contracts.conftest import USERS, BusUrls, outbox
from tests.integration.conftest import eventually


class Collector:
    """A worker's handler: records what it was given; the first `failures` calls raise."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.events: list[Delivered] = []

    async def __call__(self, batch: list[Delivered]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("the handler failed")
        self.events.extend(batch)

    def ids(self) -> set[str]:
        """The events delivered that this version reads."""
        return {e.event_id for e in self.events if not isinstance(e, Unreadable)}


@contextlib.asynccontextmanager
async def consuming(bus: EventBus, handler: Collector) -> AsyncIterator[None]:
    """The bus delivering to `handler` until the block ends, and able to take events."""
    task = asyncio.create_task(bus.consume(handler))

    async def ready() -> bool:
        try:
            await bus.ping()
        except BusUnavailable:
            return False
        return True

    try:
        await eventually(ready, 60, "the bus to take events")
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def publish_until_taken(bus: EventBus, rows: list[OutboxEvent]) -> None:
    """What the relay does: a failed publish leaves the rows to be published again."""
    for _ in range(5):
        try:
            await bus.publish(rows)
            return
        except Exception:  # any failure means "not sent", as in the relay
            await asyncio.sleep(0.1)
    raise AssertionError("publish never succeeded")


@pytest.fixture
async def bus(bus_urls: BusUrls) -> AsyncIterator[EventBus]:
    opened = open_bus(bus_urls.live)
    try:
        yield opened
    finally:
        await opened.close()


def test_backend_names_a_registered_scheme(bus: EventBus) -> None:
    assert bus.backend in BUSES.schemes


async def test_every_event_arrives_typed_and_in_order_for_its_user(bus: EventBus) -> None:
    handler = Collector()
    async with consuming(bus, handler):
        for start in (0, 20, 40):
            await bus.publish(outbox(start, 20))

        async def all_arrived() -> bool:
            return len(handler.ids()) == 60

        await eventually(all_arrived, 60, "60 events")
    sent = {row.payload["event_id"]: row.payload for row in outbox(0, 60)}
    for event in handler.events:
        assert isinstance(event, InteractionRecorded)
        assert event.to_wire() == sent[event.event_id]
    for user in USERS:
        ids = [int(e.event_id[1:]) for e in handler.events if e.key == user]
        assert ids == sorted(ids), f"{user}'s events arrived out of order"


async def test_a_payload_this_version_cannot_read_is_handed_on_and_blocks_nothing(
    bus: EventBus,
) -> None:
    """In its place, as it was sent: old code dropped it, and it was lost for good."""
    handler = Collector()
    future = OutboxEvent(id=99, key="u0", payload={"type": "from-the-future", "event_id": "x"})
    rows = [*outbox(0, 2), future, *outbox(2, 2)]
    async with consuming(bus, handler):
        await bus.publish(rows)

        async def the_readable_arrived() -> bool:
            return handler.ids() >= {"e0", "e1", "e2", "e3"}

        await eventually(the_readable_arrived, 60, "the readable events")
    [unread] = [e for e in handler.events if isinstance(e, Unreadable)]
    assert unread.payload == future.payload and unread.event_id == "x"


async def test_a_batch_whose_handler_failed_comes_again(bus: EventBus) -> None:
    handler = Collector(failures=1)
    async with consuming(bus, handler):
        await publish_until_taken(bus, outbox(0, 10))

        async def redelivered() -> bool:
            return handler.ids() == {f"e{i}" for i in range(10)}

        await eventually(redelivered, 60, "the failed batch to come again")
    assert handler.calls >= 2


async def test_ping_says_when_nothing_can_take_events(bus_urls: BusUrls) -> None:
    idle = open_bus(bus_urls.dead)
    try:
        with pytest.raises(BusUnavailable):
            await asyncio.wait_for(idle.ping(), 10)
    finally:
        await idle.close()
