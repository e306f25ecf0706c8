"""Sets aside events that fail on every delivery, so one poison event cannot stop delivery.

A failed batch comes again (the local relay keeps its rows, Kafka its offsets). After
`after_failures` failures in a row the batch is applied in halves, a failing half split again
down to single events: the good ones are applied in order (once: `processed_events` drops any
already applied), and each single event that still fails goes to the dead letters
(`store/dead_letters.py`, `contextiq dead-letters`). The handler then returns, so the bus
acknowledges the batch and delivery goes on. An event that fails for a passing reason (the
database is unreachable, or so slow that a statement hit its timeout) is never set aside: the
batch fails and comes again.

What this version cannot read at all (`Unreadable`: a newer version's event during a rolling
upgrade) is set aside at once, its payload as sent, once the rest of its batch is applied: a
version that reads it replays it (`contextiq dead-letters replay`). A record without an event
id (not JSON, not an event's object) can be neither applied nor replayed; it is counted and
dropped.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from contextiq.events.types import Delivered, Event, Unreadable
from contextiq.observability.metrics import EVENTS_DEAD_LETTERED, EVENTS_UNIDENTIFIED, UNREADABLE
from contextiq.store.dead_letters import DeadLetterStore, keepable_id
from contextiq.store.store import utcnow
from contextiq.store.transient import is_passing

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> str:
    """What a dead letter keeps of the error (never logged: it may name the user)."""
    return f"{type(exc).__name__}: {exc}"


class DeadLetterGuard:
    """The consumer's handler (`EventProcessor.handle`) with dead letters around it."""

    def __init__(
        self,
        handle: Callable[[list[Event]], Awaitable[None]],
        letters: DeadLetterStore,
        after_failures: int,
    ) -> None:
        self._handle = handle
        self.letters = letters
        self.after_failures = after_failures
        #: Deliveries failed in a row, and when the first of them failed.
        self.failures = 0
        self._first_failed_at: datetime | None = None

    async def __call__(self, delivered: list[Delivered]) -> None:
        events = [e for e in delivered if not isinstance(e, Unreadable)]
        try:
            await self._handle(events)
        except Exception:
            self.failures += 1
            self._first_failed_at = self._first_failed_at or utcnow()
            if self.failures < self.after_failures:
                raise
            await self._isolate(events, self._first_failed_at)
        self.failures = 0
        self._first_failed_at = None
        for unread in delivered:
            if isinstance(unread, Unreadable):
                await self._set_aside_unreadable(unread)

    async def _isolate(self, events: list[Event], first_failed_at: datetime) -> None:
        """Apply each half of `events` in order, splitting a half that fails again down to
        single events; set aside each single event that fails for its own sake.

        Halving finds one poison event among a delivery's 2,000 in about 22 transactions,
        where one event at a time took 2,000 (30 s; docs/benchmarks.md).
        """
        middle = len(events) // 2
        for part in (events[:middle], events[middle:]):
            if not part:
                continue
            try:
                await self._handle(part)
            except Exception as exc:
                if is_passing(exc):
                    raise
                if len(part) > 1:
                    await self._isolate(part, first_failed_at)
                else:
                    await self._set_aside(part[0], exc, first_failed_at)

    async def _set_aside(self, event: Event, exc: Exception, first_failed_at: datetime) -> None:
        failures = self.failures
        letter = await self.letters.record(event, describe(exc), failures, first_failed_at)
        EVENTS_DEAD_LETTERED.labels(event.type).inc()
        log.error(
            "set aside %s event %s as dead letter %d after %d failed deliveries (%s); "
            "see `contextiq dead-letters list`",
            event.type,
            event.event_id,
            letter,
            failures,
            type(exc).__name__,
        )

    async def _set_aside_unreadable(self, event: Unreadable) -> None:
        event_id = keepable_id(event)
        if event_id is None:
            EVENTS_UNIDENTIFIED.inc()
            log.warning("dropped a delivered record naming no event id: %s", event.reason)
            return
        letter = await self.letters.record_unreadable(event, event_id)
        EVENTS_DEAD_LETTERED.labels(UNREADABLE).inc()
        log.error(
            "set aside event %s, which this version cannot read (a newer version's?), as dead "
            "letter %d; replay it with a version that reads it: `contextiq dead-letters replay`",
            event_id,
            letter,
        )
