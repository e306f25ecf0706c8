"""Anonymous sessions on a large store: a visit's history read, merged into a user, and what
leaving sessions out costs the query that sizes a training.

Works on a copy of a database (it writes sessions into it):

    cp --reflink=auto /work/data/big.db /tmp/big.db
    .venv/bin/python bench/sessions.py --database-url sqlite+aiosqlite:////tmp/big.db

`--counts-only` times the training-size query alone, so the same script run against another
checkout (PYTHONPATH) gives the baseline in the same run.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from contextiq.domain import Interaction, InteractionType
from contextiq.store.store import Store


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


async def timed_counts(store: Store, rounds: int) -> None:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        users, _, interactions = await store.interaction_counts()
        samples.append(time.perf_counter() - started)
    print(f"interaction_counts ({users:,} users, {interactions:,} rows): {ms(samples)}")


async def sessions(store: Store, visits: int, events: int) -> None:
    # Imported here: the `--counts-only` baseline runs on a checkout without sessions.
    from contextiq.domain import session_subject
    from contextiq.events.types import SessionMerged

    items = (await store.content_ids())[:5_000]
    users = [f"user_{n:03d}" for n in range(1, visits + 1)]
    now = datetime.now(UTC)
    ids = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(visits)]
    rows = [
        Interaction(
            uuid.uuid4().hex,
            session_subject(sid),
            items[(v * events + e) % len(items)],
            InteractionType.LIKE,
            3.0,
            now + timedelta(seconds=e),
        )
        for v, sid in enumerate(ids)
        for e in range(events)
    ]
    started = time.perf_counter()
    for start in range(0, len(rows), 1_000):
        await store.record_interactions(rows[start : start + 1_000])
    wrote = time.perf_counter() - started
    print(f"{visits:,} visits x {events} events written in {wrote:.1f} s")
    for name, subjects in (("user", users), ("session", [session_subject(s) for s in ids])):
        samples = []
        for subject in subjects:
            started = time.perf_counter()
            await store.user_history(subject)
            samples.append(time.perf_counter() - started)
        print(f"user_history of a {name}: {ms(samples)}")
    samples = []
    for sid, user in zip(ids, users, strict=True):
        merge = SessionMerged(uuid.uuid4().hex, session_subject(sid), user, now)
        started = time.perf_counter()
        moved = await store.merge_session(merge)
        samples.append(time.perf_counter() - started)
        assert moved == events
    print(f"merge_session ({events} events each): {ms(samples)}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--counts-only", action="store_true")
    args = parser.parse_args()
    store = Store(args.database_url)
    try:
        await timed_counts(store, args.rounds)
        if not args.counts_only:
            await sessions(store, args.visits, args.events)
            await timed_counts(store, args.rounds)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
