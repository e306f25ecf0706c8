"""The relay drains on a nudge; under load one drain carries the commits of its settle window."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from contextiq.events.relay import OutboxRelay
from contextiq.store.records import OutboxEvent
from tests.conftest import until


class FakeOutbox:
    def __init__(self) -> None:
        self.rows: list[OutboxEvent] = []
        self.drains: list[int] = []

    def add(self, n: int) -> None:
        self.rows.append(OutboxEvent(id=n, key="u", payload={"event_id": f"e{n}"}))

    @asynccontextmanager
    async def claim_outbox(self, limit: int) -> AsyncIterator[list[OutboxEvent]]:
        events, self.rows = self.rows[:limit], self.rows[limit:]
        if events:
            self.drains.append(len(events))
        yield events


class NullBus:
    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        return None


async def test_commits_during_the_settle_window_share_one_drain() -> None:
    outbox = FakeOutbox()
    relay = OutboxRelay(outbox, NullBus(), poll_seconds=5, settle_seconds=0.3)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.01)
        outbox.add(0)
        relay.nudge()  # idle relay: drains right away, not at the 5 s poll
        await until(lambda: outbox.drains == [1])
        for n in range(1, 6):  # five commits inside the settle window
            outbox.add(n)
            relay.nudge()
            await asyncio.sleep(0.001)
        await until(lambda: sum(outbox.drains) == 6)
        assert outbox.drains == [1, 5]
    finally:
        task.cancel()


class BusyOutbox:
    """Always a full batch to send: a relay that never catches up."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.purges = 0

    @asynccontextmanager
    async def claim_outbox(self, limit: int) -> AsyncIterator[list[OutboxEvent]]:
        await asyncio.sleep(0.001)
        yield [OutboxEvent(id=n, key="u", payload={"event_id": f"e{n}"}) for n in range(limit)]

    async def purge_published_outbox(self, before: datetime) -> int:
        self.purges += 1
        return 0


async def test_a_relay_that_never_catches_up_still_purges_what_it_sent() -> None:
    """Sent rows are purged every so often under load too: only an idle relay purged, so a
    busy day kept every row it sent."""
    outbox = BusyOutbox(10)
    relay = OutboxRelay(  # type: ignore[arg-type]
        outbox, NullBus(), batch_size=10, purge_every=timedelta(milliseconds=20)
    )
    task = asyncio.create_task(relay.run())
    try:
        await until(lambda: outbox.purges >= 2)
    finally:
        task.cancel()
