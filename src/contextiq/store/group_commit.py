"""Group commit: interactions from concurrent requests share one transaction.

Under load, requests that arrive while a transaction is in flight are written
together by the next one, so throughput grows with concurrency instead of being
capped by one commit per request (SQLite has a single writer). What must follow
every write (cache invalidation, waking the relay) runs once per group too, before
any request of the group is answered: one Redis call for 30 requests, not 30.

Impressions ride along without a request waiting for them (`show`): every impression
buffered when a transaction starts goes into it as one `ImpressionBatch` outbox row. A
transaction for impressions alone starts at most every `impression_interval` seconds (or
with the next interaction, which takes them along, so a click is never stored before the
list it came from). Each such transaction costs a commit here and, once relayed, a claim,
an apply and a mark (about 3 ms of CPU together on SQLite), whatever it carries: at 0.5 s
that is 6 ms a second, against 20 at 0.05 s.

An erasure commits the user's buffered impressions first (`flush`), for it to take them. A
request that was computing its list meanwhile shows it later: `erasing` and `erased` fence the
erasure, and `show` drops an impression of a user erased after its request started (`since`,
the `erasures` count it read when it started), so nothing of theirs is written after it.
"""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

from contextiq.domain import Interaction
from contextiq.events.types import Event, ImpressionBatch
from contextiq.store.records import RecordResult
from contextiq.store.store import Store

Pending = tuple[Sequence[Interaction], Sequence[Event], asyncio.Future[RecordResult]]
AfterCommit = Callable[[Sequence[Interaction]], Awaitable[None]]
#: An impression as the read path hands it over: (recommendation_id, user_id, served_list
#: JSON, shown at in ms since the epoch).
Shown = tuple[str, str, str, int]

log = logging.getLogger(__name__)
#: An erasure in progress: every impression of the user is dropped until it ends.
_ERASING = sys.maxsize
#: Erasures remembered for the requests that started before them; a request outlives that
#: many later erasures only in theory.
MAX_ERASURES_REMEMBERED = 10_000


async def _nothing(_: Sequence[Interaction]) -> None:
    return None


class WriterBusy(Exception):
    """More than `max_waiting` events wait for the database (slow, or failing over): the
    request is refused at once (503) rather than queued, so memory stays bounded."""


class GroupCommitWriter:
    def __init__(
        self,
        store: Store,
        after_commit: AfterCommit = _nothing,
        max_events: int = 20_000,
        max_buffered: int = 1_000_000,
        retry_seconds: float = 0.5,
        impression_interval: float = 0.5,
        max_waiting: int = 100_000,
    ) -> None:
        self.store = store
        self.after_commit = after_commit
        self.max_events = max_events
        self.max_buffered = max_buffered
        self.max_waiting = max_waiting
        #: Interactions and events queued for a transaction not yet begun.
        self._waiting = 0
        #: Impressions past `max_buffered` are being dropped (logged once per episode).
        self._dropping = False
        self.retry_seconds = retry_seconds
        self.impression_interval = impression_interval
        self._queue: list[Pending] = []
        self._shown: list[Shown] = []
        self._wake = asyncio.Event()
        self._last_commit = 0.0
        self._erasures = 0
        #: User id -> the `erasures` count their erasure ended at (`_ERASING` until then).
        self._erased: dict[str, int] = {}

    @property
    def erasures(self) -> int:
        """Erasures ended so far in this process: a request reads it when it starts, and
        passes it to `show` as `since`."""
        return self._erasures

    def erasing(self, user_id: str) -> None:
        """The user is being erased: no impression of theirs is buffered from now on."""
        self._erased.pop(user_id, None)
        self._erased[user_id] = _ERASING

    def erased(self, user_id: str) -> None:
        """The erasure ended: impressions of requests that started before now are still
        dropped; those of later requests are new records."""
        self._erasures += 1
        self._erased.pop(user_id, None)
        self._erased[user_id] = self._erasures
        while len(self._erased) > MAX_ERASURES_REMEMBERED:
            del self._erased[next(iter(self._erased))]

    def erased_since(self, user_id: str, since: int | None = None) -> bool:
        """Whether the user is being erased, or was after `since` (an `erasures` count; None:
        now): a request that started then must write nothing more about them."""
        if not self._erased:
            return False
        return self._erased.get(user_id, 0) > (self._erasures if since is None else since)

    def show(self, shown: Shown, since: int | None = None) -> None:
        """Buffer a served list's impression for the next transaction; nothing to await.

        The answer can leave before its impression is committed, by at most
        `impression_interval` and one commit. A request pays for a tuple in a list, not
        for a commit of its own. `since`: the `erasures` count when the request started
        (None: now); the impression is dropped if its user was erased after that, or if
        `max_buffered` wait already (a commit hangs while cached answers go on).
        """
        if self.erased_since(shown[1], since):
            return
        if len(self._shown) >= self.max_buffered:
            if not self._dropping:
                log.warning("dropping impressions: %d wait for the database", len(self._shown))
            self._dropping = True
            return
        self._dropping = False
        self._shown.append(shown)
        if len(self._shown) == 1:
            self._wake.set()

    async def write(
        self, items: Sequence[Interaction], events: Sequence[Event] = ()
    ) -> RecordResult:
        """Store `items` with whatever else is waiting; returns once `after_commit` ran.

        `events` (impressions) ride in the same transaction as outbox rows: a served list's
        impression is durable before its answer leaves, at the cost of a share of a commit.
        Raises `WriterBusy` when they would make more than `max_waiting` wait.
        """
        size = len(items) + len(events)
        if size and self._waiting + size > self.max_waiting:
            raise WriterBusy(f"{self._waiting} events are waiting for the database")
        future: asyncio.Future[RecordResult] = asyncio.get_running_loop().create_future()
        self._waiting += size
        self._queue.append((items, events, future))
        self._wake.set()  # also ends an impressions-only wait
        return await future

    async def flush(self) -> None:
        """Returns once every impression buffered before the call is committed: an erasure
        runs after it, so none of the user's impressions is written after their erasure."""
        await self.write(())

    def _take(self) -> list[Pending]:
        taken, size = 0, 0
        for items, events, _ in self._queue:
            if taken and size + len(items) + len(events) > self.max_events:
                break
            taken, size = taken + 1, size + len(items) + len(events)
        group, self._queue = self._queue[:taken], self._queue[taken:]
        self._waiting -= size
        return group

    async def run(self) -> None:
        group: list[Pending] = []
        try:
            while True:
                if not self._queue and not self._shown:
                    self._wake.clear()
                    await self._wake.wait()
                if not self._queue and await self._linger():
                    continue
                group = self._take()
                shown, self._shown = self._shown[: self.max_events], self._shown[self.max_events :]
                items = [i for items, _, _ in group for i in items]
                # Impressions first: a report on what a client rendered of one (the events
                # a write carries) follows it even if a relay claim ends between the two.
                events: list[Event] = [ImpressionBatch.of(shown)] if shown else []
                events.extend(e for _, carried, _ in group for e in carried)
                self._last_commit = asyncio.get_running_loop().time()
                try:
                    try:
                        result = await self.store.record_interactions(items, events)
                    except asyncio.CancelledError:
                        self._shown[:0] = shown  # not stored: `_flush` tries them once more
                        raise
                    await self.after_commit(items)
                except Exception as exc:
                    self._fail(group, exc)
                    if shown:
                        await self._keep(shown, exc)
                    continue
                self._settle(group, result)
        finally:
            self._fail(group + self._queue, RuntimeError("the server is shutting down"))
            await self._flush()

    async def _linger(self) -> bool:
        """Only impressions wait: hold them until `impression_interval` after the last
        commit; True if a write arrived meanwhile (it takes them along at once)."""
        delay = self._last_commit + self.impression_interval - asyncio.get_running_loop().time()
        if delay <= 0:
            return False
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        return bool(self._queue)

    async def _keep(self, shown: list[Shown], exc: Exception) -> None:
        """Impressions of a failed transaction go back to the front for the next one; past
        `max_buffered` (the database is away for long) the oldest are dropped, logged."""
        self._shown[:0] = shown
        excess = len(self._shown) - self.max_buffered
        if excess > 0:
            del self._shown[:excess]
            log.warning("dropped %d impressions the database could not take: %s", excess, exc)
        await asyncio.sleep(self.retry_seconds)

    async def _flush(self) -> None:
        """On shutdown: one last try at the buffered impressions."""
        shown, self._shown = self._shown, []
        if not shown:
            return
        try:
            async with asyncio.timeout(5):
                await self.store.record_interactions((), (ImpressionBatch.of(shown),))
        except Exception as exc:
            log.warning("lost %d impressions at shutdown: %s", len(shown), exc)

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
