"""Anonymous sessions forgotten once idle: a visit never merged is kept for a set time.

A session is stored like a user, under its subject (`domain.session_subject`): in the
interactions it sent and the impressions of the lists it was shown, each indexed by (subject,
time), and in its events set aside (dead letters). A purge walks each of those indexes over
the session range once, a batch of subjects at a time, and deletes every row about the idle
ones (`delete_subject_rows`), as an erasure would; impression batches set aside name their
sessions in their payload, and are read whole. Crawlers and one-page visits make most
sessions; without this their rows would stay for good (they cost training nothing, but disk
and the export's promise do count).
"""

import logging
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from contextiq.domain import SESSION_PREFIX
from contextiq.events.types import ImpressionBatch
from contextiq.store.online import to_ms
from contextiq.store.store import Store, delete_subject_rows, utcnow
from contextiq.store.tables import DeadLetter, ImpressionRow, InteractionRow

log = logging.getLogger(__name__)
#: The first subject after every session's: the prefix with its last character moved on
#: one, so `SESSION_PREFIX <= subject < SESSION_END` is an index range, not a LIKE.
SESSION_END = SESSION_PREFIX[:-1] + chr(ord(SESSION_PREFIX[-1]) + 1)
#: How often the worker purges: a session goes at most this long after its retention.
SESSION_PURGE_EVERY = timedelta(hours=1)


class SessionRetention:
    def __init__(self, store: Store, retention: timedelta, batch: int = 500) -> None:
        self.store = store
        self.retention = retention
        self.batch = batch

    async def purge(self, idle_since: datetime) -> int:
        """Forget every session with no interaction and no impression since `idle_since`;
        returns how many went. A pass that forgot any is scrubbed once, as an erasure is:
        SQLite's log still holds the deleted rows (`Store.scrub`)."""
        newest_event = func.max(InteractionRow.occurred_at) < idle_since
        purged = await self._walk(InteractionRow.user_id, newest_event, idle_since)
        # Sessions that were shown lists but never sent an event.
        newest_list = func.max(ImpressionRow.shown_ms) < to_ms(idle_since)
        purged += await self._walk(ImpressionRow.user_id, newest_list, idle_since)
        # Sessions whose only rows are events set aside (an interaction that failed on every
        # delivery); parked reports need no walk: they expire within minutes.
        newest_letter = func.max(DeadLetter.last_failed_at) < idle_since
        letters = cast(InstrumentedAttribute[str], DeadLetter.user_id)  # the range has no null
        purged += await self._walk(letters, newest_letter, idle_since)
        purged += await self._named_in_dead_batches(idle_since)
        if purged:
            await self.store.scrub()
        return purged

    async def _walk(
        self, subject: InstrumentedAttribute[str], idle: ColumnElement[bool], since: datetime
    ) -> int:
        """One pass over `subject`'s session range in index order, a batch of subjects that
        are `idle` in its table per transaction, each checked against the other table too."""
        after, purged = SESSION_PREFIX, 0
        while True:
            async with self.store.sessions.begin() as session:
                # The range's last batch may scan every session row in the index: seconds.
                await self.store.lift_statement_timeout(session)
                candidates = list(
                    await session.scalars(
                        select(subject)
                        .where(subject > after, subject < SESSION_END)
                        .group_by(subject)
                        .having(idle)
                        .order_by(subject)
                        .limit(self.batch)
                    )
                )
                if not candidates:
                    return purged
                active = await _active(session, candidates, since)
                forgotten = [s for s in candidates if s not in active]
                if forgotten:
                    await delete_subject_rows(session, forgotten)
            purged += len(forgotten)
            after = candidates[-1]
            if len(candidates) < self.batch:
                return purged

    async def _named_in_dead_batches(self, since: datetime) -> int:
        """Sessions shown lists only in impression batches set aside (dead letters): a batch
        names its subjects in its payload alone, so no index finds them. Dead letters are
        few, and read whole; a session is idle when its newest impression there is."""
        async with self.store.sessions.begin() as session:
            payloads = await session.scalars(
                select(DeadLetter.payload).where(DeadLetter.event_type == ImpressionBatch.type)
            )
            newest: dict[str, int] = {}
            for payload in payloads:
                for _, subject, _, at in ImpressionBatch.from_wire(payload).shown:
                    if subject.startswith(SESSION_PREFIX):
                        newest[subject] = max(at, newest.get(subject, at))
            cutoff = to_ms(since)
            idle = sorted(s for s, at in newest.items() if at < cutoff)
            forgotten = 0
            for start in range(0, len(idle), self.batch):
                batch = idle[start : start + self.batch]
                active = await _active(session, batch, since)
                gone = [s for s in batch if s not in active]
                if gone:
                    await delete_subject_rows(session, gone)
                forgotten += len(gone)
        return forgotten

    async def purge_idle(self) -> int:
        """One of the worker's rounds (`SESSION_PURGE_EVERY`): the sessions idle past the
        retention."""
        purged = await self.purge(utcnow() - self.retention)
        if purged:
            log.info("forgot %d anonymous sessions idle for %s", purged, self.retention)
        return purged


async def _active(session: AsyncSession, subjects: list[str], since: datetime) -> set[str]:
    """Those of `subjects` with an interaction or an impression at or after `since`."""
    recent = union(
        select(InteractionRow.user_id).where(
            InteractionRow.user_id.in_(subjects), InteractionRow.occurred_at >= since
        ),
        select(ImpressionRow.user_id).where(
            ImpressionRow.user_id.in_(subjects), ImpressionRow.shown_ms >= to_ms(since)
        ),
    )
    return set(await session.scalars(select(recent.subquery().c[0])))
