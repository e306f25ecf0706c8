"""Forgetting idle anonymous sessions at scale: the retention purge against erasing the same
sessions one at a time (`Store.delete_user`, what `DELETE /sessions/{id}` runs), per session.

Writes `--sessions` visits of `--events` events into a migrated database (half of them idle:
their events 40 days old; a tenth of them shown a list too), and `--users` users whose rows
must stay, then times the purge of the idle half, then the erasure path on `--erase` more
idle sessions written the same way:

    .venv/bin/python bench/session_retention.py --database-url sqlite+aiosqlite:////tmp/ret.db
"""

import argparse
import asyncio
import time
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select, text

from contextiq.domain import Interaction, InteractionType, session_subject
from contextiq.events.types import ImpressionRecorded, InteractionRecorded, UserDeleted
from contextiq.store.migrate import upgrade_async
from contextiq.store.session_retention import SessionRetention
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import InteractionRow, OutboxRow

RETENTION = timedelta(days=30)


def _visits(prefix: str, count: int, events: int, idle: bool) -> list[Interaction]:
    at = utcnow() - (RETENTION + timedelta(days=10) if idle else timedelta(hours=1))
    return [
        Interaction(
            uuid.uuid4().hex,
            session_subject(f"{prefix}-{v}"),
            f"item-{(v * events + e) % 5_000}",
            InteractionType.VIEW,
            1.0,
            at + timedelta(seconds=e),
        )
        for v in range(count)
        for e in range(events)
    ]


async def _write(store: Store, rows: list[Interaction], shown_every: int) -> None:
    """As the API and the worker would leave them: rows, counters, impressions; the outbox
    sent and purged (an erasure scans what is left of it)."""
    for start in range(0, len(rows), 5_000):
        chunk = rows[start : start + 5_000]
        await store.record_interactions(chunk)
        shown = [
            ImpressionRecorded(uuid.uuid4().hex, i.user_id, ((i.content_id, 1.0),), i.occurred_at)
            for n, i in enumerate(chunk)
            if n % shown_every == 0
        ]
        await store.apply_events([InteractionRecorded(i) for i in chunk] + shown)
    async with store.sessions.begin() as session:
        await session.execute(delete(OutboxRow))
    if store.dialect == "postgresql":  # as autovacuum would: else every erasure's outbox scan
        async with store.engine.connect() as conn:  # reads the emptied table's pages
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM outbox"))


async def _rows(store: Store) -> int:
    async with store.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InteractionRow)) or 0)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--erase", type=int, default=500)
    args = parser.parse_args()
    await upgrade_async(args.database_url)
    store = Store(args.database_url)
    try:
        half = args.sessions // 2
        started = time.perf_counter()
        await _write(store, _visits("idle", half, args.events, idle=True), 10)
        await _write(store, _visits("live", args.sessions - half, args.events, idle=False), 10)
        users = [
            Interaction(uuid.uuid4().hex, f"user-{n % args.users}", "item-1",
                        InteractionType.LIKE, 3.0, utcnow() - timedelta(days=60 + n % 7))
            for n in range(args.users * 5)
        ]  # fmt: skip
        await _write(store, users, 10)
        wrote = time.perf_counter() - started
        print(f"wrote {await _rows(store):,} interaction rows in {wrote:.0f} s")

        started = time.perf_counter()
        purged = await SessionRetention(store, RETENTION).purge(utcnow() - RETENTION)
        took = time.perf_counter() - started
        assert purged == half, purged
        print(
            f"purge: {purged:,} idle of {args.sessions:,} sessions in {took:.1f} s"
            f" ({took / purged * 1e3:.3f} ms a session); {await _rows(store):,} rows left"
        )
        again = time.perf_counter()
        assert await SessionRetention(store, RETENTION).purge(utcnow() - RETENTION) == 0
        print(f"purge with nothing idle: {time.perf_counter() - again:.1f} s")

        await _write(store, _visits("erase", args.erase, args.events, idle=True), 10)
        started = time.perf_counter()
        for v in range(args.erase):
            subject = session_subject(f"erase-{v}")
            await store.delete_user(UserDeleted(uuid.uuid4().hex, subject, utcnow()))
        each = (time.perf_counter() - started) / args.erase
        print(
            f"erasure one at a time: {args.erase:,} sessions, {each * 1e3:.3f} ms a session"
            f" ({each / (took / purged):.1f} x the purge's)"
        )
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
