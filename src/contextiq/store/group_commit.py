"""Group commit: interactions from concurrent requests share one transaction.

Under load, requests that arrive while a transaction is in flight are written
together by the next one, so throughput grows with concurrency instead of being
capped by one commit per request (SQLite has a single writer). What must follow
every write (cache invalidation, waking the relay) runs once per group too, before
any request of the group is answered: one Redis call for 30 requests, not 30.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from contextiq.domain import Interaction
from contextiq.events.types import Event
from contextiq.store.records import RecordResult
from contextiq.store.store import Store

Pending = tuple[Sequence[Interaction], Sequence[Event], asyncio.Future[RecordResult]]
AfterCommit = Callable[[Sequence[Interaction]], Awaitable[None]]


async def _nothing(_: Sequence[Interaction]) -> None:
    return None


class GroupCommitWriter:
    def __init__(
        self, store: Store, after_commit: AfterCommit = _nothing, max_events: int = 20_000
    ) -> None:
        self.store = store
        self.after_commit = after_commit
        self.max_events = max_events
        self._queue: list[Pending] = []
        self._wake = asyncio.Event()

    async def write(
        self, items: Sequence[Interaction], events: Sequence[Event] = ()
    ) -> RecordResult:
        """Store `items` with whatever else is waiting; returns once `after_commit` ran.

        `events` (impressions) ride in the same transaction as outbox rows: a served list's
        impression is durable before its answer leaves, at the cost of a share of a commit.
        """
        future: asyncio.Future[RecordResult] = asyncio.get_running_loop().create_future()
        self._queue.append((items, events, future))
        self._wake.set()
        return await future

    def _take(self) -> list[Pending]:
        taken, size = 0, 0
        for items, events, _ in self._queue:
            if taken and size + len(items) + len(events) > self.max_events:
                break
            taken, size = taken + 1, size + len(items) + len(events)
        group, self._queue = self._queue[:taken], self._queue[taken:]
        return group

    async def run(self) -> None:
        try:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                group = self._take()
                items = [i for items, _, _ in group for i in items]
                events = [e for _, events, _ in group for e in events]
                try:
                    result = await self.store.record_interactions(items, events)
                    await self.after_commit(items)
                except Exception as exc:
                    self._fail(group, exc)
                    continue
                self._settle(group, result)
        finally:
            self._fail(self._queue, RuntimeError("the server is shutting down"))

    @staticmethod
    def _fail(group: list[Pending], exc: Exception) -> None:
        for _, _, future in group:
            if not future.done():
                future.set_exception(exc)

    @staticmethod
    def _settle(
        group: list[Pending],
        result: RecordResult,
    ) -> None:
        """Give each request its own share: an id is accepted for the first request that sent it."""
        unclaimed = set(result.accepted)
        for items, _, future in group:
            duplicates = [i.event_id for i in items]
            accepted = [e for e in dict.fromkeys(duplicates) if e in unclaimed]
            unclaimed.difference_update(accepted)
            for event_id in accepted:
                duplicates.remove(event_id)
            if not future.done():
                future.set_result(RecordResult(accepted, duplicates))
