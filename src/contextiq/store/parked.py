"""Reports that arrive before their impression wait for it in `parked_reports`.

A click naming a `recommendation_id`, or a seen report, can be applied before the impression
it names: Kafka orders events per partition only, two API replicas' relays race, and a group
commit's impressions wait for the relay's next poll while an interaction nudges it. Dropped,
such a report would be lost for good (its id is marked processed). Parked, it is taken back
exactly once, in the transaction that stores its impression (a `DELETE … RETURNING` that a
concurrent taker finds empty), or by the worker's sweep should the two transactions have
overlapped; one still waiting after the attribution wait is dropped and counted.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.domain import Interaction, as_utc
from contextiq.events.types import ImpressionSeen, InteractionRecorded
from contextiq.store.tables import ImpressionRow, ParkedReport

_IN_CHUNK = 500
#: Rows a sweep statement takes at most; it repeats while it takes that many.
SWEEP_BATCH = 5_000

Reports = tuple[list[ImpressionSeen], list[Interaction]]


class ParkedReports:
    def __init__(self, insert: Callable[[Any], Any]) -> None:
        self._insert = insert(ParkedReport)
        self._table = cast(Table, ParkedReport.__table__)
        self._any = select(self._table.c.id).limit(1)

    async def park(
        self,
        session: AsyncSession,
        seen: Sequence[ImpressionSeen],
        interactions: Sequence[Interaction],
        now: datetime,
    ) -> None:
        """Keep reports whose impression is not stored yet."""
        events: list[ImpressionSeen | InteractionRecorded] = [
            *seen,
            *(InteractionRecorded(i) for i in interactions),
        ]
        if not events:
            return
        await session.execute(
            self._insert,
            [
                {
                    "recommendation_id": _named(e),
                    "user_id": e.key,
                    "type": e.type,
                    "payload": e.to_wire(),
                    "parked_at": now,
                }
                for e in events
            ],
        )

    async def take(self, session: AsyncSession, recommendation_ids: Sequence[str]) -> Reports:
        """Remove and return the reports waiting for these impressions (being stored now)."""
        seen: list[ImpressionSeen] = []
        interactions: list[Interaction] = []
        # Mostly none is parked: one probe instead of a delete per 500 ids (a quarter of
        # the worker's time per impression on SQLite). One parked right after the probe is
        # the sweep's, as one parked while this transaction is open would be anyway.
        if not recommendation_ids or await session.scalar(self._any) is None:
            return seen, interactions
        for start in range(0, len(recommendation_ids), _IN_CHUNK):
            chunk = recommendation_ids[start : start + _IN_CHUNK]
            where = self._table.c.recommendation_id.in_(chunk)
            _decode(await self._delete(session, where), seen, interactions)
        return seen, interactions

    async def take_stored(self, session: AsyncSession) -> Reports:
        """Remove and return reports whose impression is stored already: parked while the
        impression's own transaction was still open, so that one found nothing to take."""
        impressions = cast(Table, ImpressionRow.__table__)
        stored = exists().where(impressions.c.recommendation_id == self._table.c.recommendation_id)
        seen: list[ImpressionSeen] = []
        interactions: list[Interaction] = []
        while True:
            taken = await self._delete(session, stored, SWEEP_BATCH)
            _decode(taken, seen, interactions)
            if len(taken) < SWEEP_BATCH:
                return seen, interactions

    async def expire(self, session: AsyncSession, parked_before: datetime) -> Counter[str]:
        """Drop reports parked before `parked_before`; returns how many went, per type."""
        expired: Counter[str] = Counter()
        while True:
            rows = await self._delete(
                session, self._table.c.parked_at < parked_before, SWEEP_BATCH, payload=False
            )
            expired.update(rows)
            if len(rows) < SWEEP_BATCH:
                return expired

    async def _delete(
        self, session: AsyncSession, where: Any, limit: int | None = None, payload: bool = True
    ) -> list[Any]:
        """Delete the rows `where` selects (at most `limit`), returning each one's payload
        (else its type) in the order they were parked: a list's first click gives its rank."""
        table = self._table
        if limit is not None:
            ids = select(table.c.id).where(where).order_by(table.c.id).limit(limit)
            where = table.c.id.in_(ids.scalar_subquery())
        returned = table.c.payload if payload else table.c.type
        rows = await session.execute(delete(table).where(where).returning(table.c.id, returned))
        return [value for _, value in sorted(rows.all(), key=lambda row: int(row[0]))]


async def exported_parked_reports(session: AsyncSession, subject: str) -> list[dict[str, Any]]:
    """The subject's reports still waiting for their impression, oldest first, each as sent:
    they are the person's data for as long as they wait."""
    rows = await session.scalars(
        select(ParkedReport).where(ParkedReport.user_id == subject).order_by(ParkedReport.id)
    )
    return [
        {
            "event_type": r.type,
            "recommendation_id": r.recommendation_id,
            "event": r.payload,
            "parked_at": as_utc(r.parked_at).isoformat(),
        }
        for r in rows
    ]


def _named(event: ImpressionSeen | InteractionRecorded) -> str:
    if isinstance(event, ImpressionSeen):
        return event.recommendation_id
    assert event.interaction.recommendation_id is not None  # only named clicks are parked
    return event.interaction.recommendation_id


def _decode(
    payloads: Sequence[dict[str, Any]], seen: list[ImpressionSeen], interactions: list[Interaction]
) -> None:
    for payload in payloads:
        if payload["type"] == ImpressionSeen.type:
            seen.append(ImpressionSeen.from_wire(payload))
        else:
            interactions.append(InteractionRecorded.from_wire(payload).interaction)
