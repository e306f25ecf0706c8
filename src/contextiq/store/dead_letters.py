"""Dead letters in their table: events the worker set aside, listed and replayed from the CLI.

A replay puts the event back on the outbox and deletes its dead letter in one transaction, so
the relay and the worker apply it the normal way (once, by its `event_id`); if it fails again
it comes back as a new dead letter. An event this version could not read (`Unreadable`: a
newer version's, met during a rolling upgrade) is kept as it was sent, and only a version
that reads it can replay it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.domain import as_utc
from contextiq.events.types import (
    Event,
    ImpressionBatch,
    SessionMerged,
    UnknownEvent,
    Unreadable,
    decode_event,
)
from contextiq.store.store import Store, outbox_rows, utcnow
from contextiq.store.tables import EVENT_TYPE, ID, DeadLetter, OutboxRow

#: Replayed per transaction: `--all` after an outage may be many rows.
_REPLAY_BATCH = 500
#: The error text kept per dead letter (a traceback's last line, not the whole traceback).
MAX_ERROR_CHARS = 2_000


class UnknownDeadLetters(LookupError):
    """Dead letter ids that do not exist (never did, or were replayed)."""

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__(", ".join(str(i) for i in ids))
        self.ids = list(ids)


class UnreadableDeadLetters(ValueError):
    """Dead letters of events this version cannot read: a newer version must replay them."""

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__(", ".join(str(i) for i in ids))
        self.ids = list(ids)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    event_id: str
    event_type: str
    user_id: str | None
    payload: dict[str, Any]
    error: str
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime


def subject_of(event: Event) -> str | None:
    """The user a dead letter is erased with: a merge's user (the session's rows are theirs
    now); none for an impression batch, whose users only its payload names."""
    if isinstance(event, ImpressionBatch):
        return None
    if isinstance(event, SessionMerged):
        return event.user_id
    return event.key


def keepable_id(event: Unreadable) -> str | None:
    """The event id a dead letter of `event` is kept under; None when it names none, or one
    longer than any event id (the column would refuse it, and the batch could never pass)."""
    found = event.event_id
    return found if found is not None and len(found) <= (ID.length or 0) else None


def unread_subject(payload: dict[str, Any]) -> str | None:
    """The user an unreadable event's dead letter is erased with: the `user_id` it names,
    as every event about one user does (an impression batch names none there)."""
    user = payload.get("user_id")
    return user if isinstance(user, str) and 0 < len(user) <= (ID.length or 0) else None


def _record(row: DeadLetter) -> DeadLetterRecord:
    return DeadLetterRecord(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        user_id=row.user_id,
        payload=row.payload,
        error=row.error,
        failures=row.failures,
        first_failed_at=as_utc(row.first_failed_at),
        last_failed_at=as_utc(row.last_failed_at),
    )


class DeadLetterStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self, event: Event, error: str, failures: int, first_failed_at: datetime
    ) -> int:
        """Set `event` aside; returns its dead letter's id. The same event set aside again
        (redelivered before its offsets were committed) adds to the one dead letter."""
        return await self._upsert(
            event.event_id,
            event.type,
            subject_of(event),
            event.to_wire(),
            error,
            failures,
            first_failed_at,
        )

    async def record_unreadable(self, event: Unreadable, event_id: str) -> int:
        """Set aside an event this version cannot read, its payload as sent (one delivery
        counted as failed); returns its dead letter's id."""
        payload: dict[str, Any] = event.payload
        kind = payload.get("type", "interaction")
        return await self._upsert(
            event_id,
            str(kind)[: EVENT_TYPE.length],
            unread_subject(payload),
            payload,
            event.reason,
            1,
            utcnow(),
        )

    async def _upsert(
        self,
        event_id: str,
        event_type: str,
        user_id: str | None,
        payload: dict[str, Any],
        error: str,
        failures: int,
        first_failed_at: datetime,
    ) -> int:
        table = DeadLetter.__table__
        stmt = self.store._insert(DeadLetter)
        stmt = stmt.on_conflict_do_update(
            index_elements=["event_id"],
            set_={
                "error": stmt.excluded.error,
                "failures": table.c.failures + stmt.excluded.failures,
                "last_failed_at": stmt.excluded.last_failed_at,
            },
        ).returning(table.c.id)
        async with self.store.sessions.begin() as session:
            letter_id = await session.scalar(
                stmt,
                {
                    "event_id": event_id,
                    "event_type": event_type,
                    "user_id": user_id,
                    "payload": payload,
                    "error": error[:MAX_ERROR_CHARS],
                    "failures": failures,
                    "first_failed_at": first_failed_at,
                    "last_failed_at": utcnow(),
                },
            )
        return int(letter_id)

    async def listed(self, limit: int) -> list[DeadLetterRecord]:
        """The oldest `limit` dead letters."""
        async with self.store.sessions() as session:
            rows = await session.scalars(select(DeadLetter).order_by(DeadLetter.id).limit(limit))
            return [_record(r) for r in rows]

    async def replay(self, ids: Sequence[int]) -> int:
        """Queue the dead letters `ids` again, all or none; returns how many.

        Raises `UnknownDeadLetters` (and replays nothing) when any id is not stored, and
        `UnreadableDeadLetters` when any holds an event this version cannot read.
        """
        wanted = sorted(set(ids))
        async with self.store.sessions.begin() as session:
            rows = list(await session.scalars(select(DeadLetter).where(DeadLetter.id.in_(wanted))))
            missing = sorted(set(wanted) - {r.id for r in rows})
            if missing:
                raise UnknownDeadLetters(missing)
            if unreadable := await self._requeue(session, rows):
                raise UnreadableDeadLetters(unreadable)  # and the transaction queues nothing
        return len(rows)

    async def replay_all(self) -> tuple[int, list[int]]:
        """Queue every dead letter this version reads again, `_REPLAY_BATCH` per transaction;
        returns how many, and the ids of those left because it cannot read them (a newer
        version replays them): one such must not hold back the others behind it."""
        replayed, left, after = 0, [], 0
        while True:
            async with self.store.sessions.begin() as session:
                rows = list(
                    await session.scalars(
                        select(DeadLetter)
                        .where(DeadLetter.id > after)
                        .order_by(DeadLetter.id)
                        .limit(_REPLAY_BATCH)
                    )
                )
                unreadable = await self._requeue(session, rows)
                after = rows[-1].id if rows else after
            replayed += len(rows) - len(unreadable)
            left += unreadable
            if len(rows) < _REPLAY_BATCH:
                return replayed, left

    async def _requeue(self, session: AsyncSession, rows: Sequence[DeadLetter]) -> list[int]:
        """Queue the rows this version reads and delete their dead letters; returns the ids
        of the others, left as they are."""
        events: list[Event] = []
        queued: list[int] = []
        unreadable: list[int] = []
        for row in rows:
            try:
                events.append(decode_event(row.payload))
                queued.append(row.id)
            except UnknownEvent:
                unreadable.append(row.id)
        if events:
            await session.execute(self.store._insert(OutboxRow), outbox_rows(events, utcnow()))
            await session.execute(delete(DeadLetter).where(DeadLetter.id.in_(queued)))
        return unreadable
