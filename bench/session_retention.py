"""Retention purges at scale: idle anonymous sessions, and the dedupe's processed ids.

Sessions: the retention purge against erasing the same sessions one at a time
(`Store.delete_user`, what `DELETE /sessions/{id}` runs), per session. Writes `--sessions`
visits of `--events` events into a migrated database (half of them idle: their events 40 days
old; a tenth of them shown a list too), and `--users` users whose rows must stay, then times the
purge of the idle half, then the erasure path on `--erase` more idle sessions written the same
way:

    .venv/bin/python bench/session_retention.py --database-url sqlite+aiosqlite:////tmp/ret.db

Dedupe (`--dedupe`, PostgreSQL): `--old` processed ids applied 20 days ago, then
`Store.apply_events` throughput with and without `ix_processed_events_processed_at` (what the
index costs the worker's inserts; `--rounds` of each, alternated), one purge batch with and
without it, and the purge of every old id (`Store.purge_processed_events`, the worker's own
code) while events are recorded and applied at `--rate` a second beside it:

    .venv/bin/python bench/session_retention.py --dedupe \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/ciq_dedupe --old 5000000
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, DropIndex

from contextiq.domain import Interaction, InteractionType, session_subject
from contextiq.events.types import ImpressionRecorded, InteractionRecorded, UserDeleted
from contextiq.store.migrate import migration_engine, upgrade_async
from contextiq.store.session_retention import SessionRetention
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import InteractionRow, OutboxRow, ProcessedEvent

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
        await store.apply_events([*(InteractionRecorded(i) for i in chunk), *shown])
    async with store.sessions.begin() as session:
        await session.execute(delete(OutboxRow))
    if store.dialect == "postgresql":  # as autovacuum would: else every erasure's outbox scan
        async with store.engine.connect() as conn:  # reads the emptied table's pages
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM outbox"))


async def _rows(store: Store) -> int:
    async with store.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InteractionRow)) or 0)


#: How long the worker keeps an id by default (`CONTEXTIQ_DEDUPE_WINDOW_DAYS`).
DEDUPE_WINDOW = timedelta(days=15)
#: The old ids are 17 ms apart, as 5 million a day are, from 20 days back.
OLD_APART = timedelta(milliseconds=17)
AGE_INDEX = next(
    i
    for i in cast(Table, ProcessedEvent.__table__).indexes
    if i.name == "ix_processed_events_processed_at"
)


def _fresh(n: int) -> list[Interaction]:
    """`n` new events as the API takes them: fresh ids, any of 200,000 users and 5,000 items."""
    now = utcnow()
    return [
        Interaction(uuid.uuid4().hex, f"user-{random.randrange(200_000)}",
                    f"item-{random.randrange(5_000)}", InteractionType.VIEW, 1.0, now)
        for _ in range(n)
    ]  # fmt: skip


async def _apply(store: Store, n: int) -> float:
    """Seconds `apply_events` took for `n` events the API recorded just before (not timed)."""
    events = _fresh(n)
    await store.record_interactions(events)
    started = time.perf_counter()
    assert len((await store.apply_events([InteractionRecorded(e) for e in events])).events) == n
    return time.perf_counter() - started


async def _admin(url: str, *statements: Any) -> float:
    """Run DDL or VACUUM outside a transaction and the request timeout; returns seconds."""
    engine = migration_engine(url)
    started = time.perf_counter()
    try:
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await autocommit.execute(statement)
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def _pct(seconds: list[float], q: float) -> float:
    return sorted(seconds)[min(len(seconds) - 1, int(q * len(seconds)))] * 1e3


async def _dedupe(store: Store, args: argparse.Namespace) -> None:
    assert store.dialect == "postgresql", "the dedupe part measures PostgreSQL"
    url, batch = args.database_url, 1_000
    start = utcnow() - timedelta(days=20)
    fill = text(
        "INSERT INTO processed_events (event_id, processed_at) SELECT md5(g::text),"
        " :start - g * :apart FROM generate_series(1, :n) g"
    ).bindparams(start=start, apart=OLD_APART, n=args.old)
    took = await _admin(url, text("TRUNCATE processed_events"), fill)
    took += await _admin(url, text("VACUUM ANALYZE processed_events"))
    print(f"wrote {args.old:,} old ids in {took:.0f} s")

    # What the index costs the worker: apply_events with and without it, alternated.
    rates: dict[bool, list[float]] = {True: [], False: []}
    await _apply(store, batch)  # connections opened, statements compiled: not timed
    for r in range(args.rounds):
        for indexed in (True, False) if r % 2 == 0 else (False, True):
            ddl = CreateIndex(AGE_INDEX, if_not_exists=True) if indexed else None
            await _admin(url, ddl if ddl is not None else DropIndex(AGE_INDEX, if_exists=True))
            seconds = [await _apply(store, batch) for _ in range(args.applies // batch)]
            rates[indexed].append(args.applies / sum(seconds))
            state = "on" if indexed else "off"
            print(f"round {r + 1}, index {state}: {rates[indexed][-1]:,.0f} events/s")
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"apply_events, median of {args.rounds}: {on:,.0f} events/s with the index,"
          f" {off:,.0f} without ({on / off:.3f} x)")  # fmt: skip
    pairs = [a / b for a, b in zip(rates[True], rates[False], strict=True)]
    print(f"with/without in the same round: median {statistics.median(pairs):.3f} x,"
          f" {min(pairs):.3f}-{max(pairs):.3f}")  # fmt: skip

    # One purge batch: the oldest 10,000 ids, found by a scan of the table or by the index.
    oldest = start - (args.old - 10_000) * OLD_APART
    await _admin(url, DropIndex(AGE_INDEX, if_exists=True))
    started = time.perf_counter()
    try:
        assert await store.purge_processed_events(oldest) == 10_000
        scan = f"{(time.perf_counter() - started) * 1e3:,.0f} ms"
    except DBAPIError as exc:  # the 5 s statement timeout
        scan = f"failed after {time.perf_counter() - started:.1f} s ({type(exc.orig).__name__})"
    built = await _admin(url, CreateIndex(AGE_INDEX, if_not_exists=True))
    print(f"index built on {args.old:,} rows in {built:.1f} s")
    oldest += 10_000 * OLD_APART
    started = time.perf_counter()
    assert await store.purge_processed_events(oldest) == 10_000
    walk = time.perf_counter() - started
    print(f"one batch of 10,000: {walk * 1e3:,.0f} ms along the index, without it {scan}")

    # The whole purge while events are recorded and applied at `--rate` a second beside it.
    tick, during = 0.1, False
    latencies: dict[bool, list[float]] = {False: [], True: []}
    stop = asyncio.Event()

    async def traffic() -> None:
        each = max(1, round(args.rate * tick))
        while not stop.is_set():
            began = time.perf_counter()
            latencies[during].append(await _apply(store, each))
            await asyncio.sleep(max(0.0, tick - (time.perf_counter() - began)))

    applying = asyncio.create_task(traffic())
    await asyncio.sleep(20)  # the baseline: the same traffic, no purge
    during = True
    started = time.perf_counter()
    purged = await store.purge_processed_events(utcnow() - DEDUPE_WINDOW)
    took = time.perf_counter() - started
    stop.set()
    await applying
    print(f"purge: {purged:,} ids in {took:.1f} s ({purged / took:,.0f} ids/s,"
          f" {took / (purged / 10_000) * 1e3:,.0f} ms a batch of 10,000)")  # fmt: skip
    for phase, seconds in latencies.items():
        applied = len(seconds) * max(1, round(args.rate * tick))
        print(f"applies {'during' if phase else 'before'} the purge: {len(seconds)} batches"
              f" ({applied:,} events), p50 {_pct(seconds, 0.5):.1f} ms,"
              f" p95 {_pct(seconds, 0.95):.1f} ms, max {max(seconds) * 1e3:.1f} ms")  # fmt: skip
    started = time.perf_counter()
    assert await store.purge_processed_events(utcnow() - DEDUPE_WINDOW) == 0
    print(f"purge with nothing old: {(time.perf_counter() - started) * 1e3:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--erase", type=int, default=500)
    parser.add_argument("--dedupe", action="store_true", help="the processed ids instead")
    parser.add_argument("--old", type=int, default=5_000_000, help="dedupe: old ids")
    parser.add_argument("--rounds", type=int, default=3, help="dedupe: applies with/without")
    parser.add_argument("--applies", type=int, default=30_000, help="dedupe: events a round")
    parser.add_argument("--rate", type=int, default=1_000, help="dedupe: events/s beside it")
    args = parser.parse_args()
    await upgrade_async(args.database_url)
    store = Store(args.database_url)
    try:
        await (_dedupe(store, args) if args.dedupe else _sessions(store, args))
    finally:
        await store.close()


async def _sessions(store: Store, args: argparse.Namespace) -> None:
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


if __name__ == "__main__":
    asyncio.run(main())
