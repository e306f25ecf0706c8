"""The relay drains on a nudge; under load one drain carries the commits of its settle window."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

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
