"""A subject's dead letters, read for their export and taken out for their erasure.

A dead letter names its subject in `user_id`, except an impression batch's: a batch spans
users and names them in its payload only. Both kinds hold what the person sent or was shown,
so the export lists them as the erasure removes them. Dead letters are few: the payload match
reads the batch ones alone. A batch this version cannot read (a newer version's) cannot be
narrowed to one user: the erasure of a subject its text names deletes it whole, and the
export shows only its envelope.
"""

import contextlib
from collections.abc import Sequence
from typing import Any, cast

import orjson
from sqlalchemy import Row, Table, Text, delete, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.domain import as_utc
from contextiq.events.types import ImpressionBatch, UnknownEvent, decode_event
from contextiq.store.tables import DeadLetter

#: Read as rows, not ORM objects: an erasure edits batches by statement, and a second one in
#: the same session (the worker applies several) must read them as edited.
_LETTERS = cast(Table, DeadLetter.__table__)
#: A dead-lettered impression batch (None: unreadable), and which of the subjects looked for
#: it names.
_Named = tuple[Row[Any], ImpressionBatch | None, set[str]]
#: What the export shows of a batch it cannot narrow to the subject.
_ENVELOPE = ("type", "schema_version", "event_id")


async def _batches_naming(session: AsyncSession, subjects: Sequence[str]) -> list[_Named]:
    """The dead-lettered impression batches with an impression of any of `subjects`."""
    mentioned = or_(
        *(
            sql_cast(DeadLetter.payload, Text).contains(orjson.dumps(s).decode(), autoescape=True)
            for s in subjects
        )
    )
    letters = await session.execute(
        select(_LETTERS)
        .where(DeadLetter.event_type == ImpressionBatch.type, mentioned)
        .order_by(DeadLetter.id)
    )
    found: list[_Named] = []
    for letter in letters.all():
        batch = _readable(letter.payload)
        if batch is None:  # a newer version's: that its text names them is all there is
            text = orjson.dumps(letter.payload)
            named = {s for s in subjects if orjson.dumps(s) in text}
        else:
            # The id may appear as something else (a content id, a list's arm): the users decide.
            named = {user for _, user, _, _ in batch.shown}.intersection(subjects)
        if named:
            found.append((letter, batch, named))
    return found


def _readable(payload: dict[str, Any]) -> ImpressionBatch | None:
    """The dead-lettered batch, or None when this version cannot read it."""
    with contextlib.suppress(UnknownEvent):
        batch = decode_event(payload)
        if isinstance(batch, ImpressionBatch):
            return batch
    return None


async def forget_in_dead_batches(session: AsyncSession, subjects: Sequence[str]) -> int:
    """Take `subjects`' impressions out of dead-lettered impression batches (a batch left
    empty goes); returns how many batches changed."""
    found = await _batches_naming(session, subjects)
    for letter, batch, named in found:
        if batch is not None:
            for subject in named:
                batch = batch.without_user(subject)
        if batch is not None and batch.shown:
            await session.execute(
                update(_LETTERS).where(_LETTERS.c.id == letter.id).values(payload=batch.to_wire())
            )
        else:
            await session.execute(delete(_LETTERS).where(_LETTERS.c.id == letter.id))
    return len(found)


async def exported_dead_letters(session: AsyncSession, subject: str) -> list[dict[str, Any]]:
    """The subject's dead letters, oldest first: each event as sent, why and when it failed.

    A batch is narrowed to the subject's impressions and its error withheld: the error is
    the whole batch's, and may quote the other people it names."""
    own = await session.execute(select(_LETTERS).where(DeadLetter.user_id == subject))
    entries: list[tuple[Row[Any], dict[str, Any] | None]] = [(row, None) for row in own.all()]
    for letter, batch, _ in await _batches_naming(session, [subject]):
        if batch is None:
            entries.append((letter, {k: letter.payload.get(k) for k in _ENVELOPE}))
        else:
            entries.append((letter, batch.of_user(subject).to_wire()))
    entries.sort(key=lambda entry: entry[0].id)
    return [_exported(letter, batch) for letter, batch in entries]


def _exported(letter: Row[Any], batch: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "event_id": letter.event_id,
        "event_type": letter.event_type,
        "event": letter.payload if batch is None else batch,
        "error": letter.error if batch is None else None,
        "failures": letter.failures,
        "first_failed_at": as_utc(letter.first_failed_at).isoformat(),
        "last_failed_at": as_utc(letter.last_failed_at).isoformat(),
    }
