"""What the shared training count costs the workers' applies on PostgreSQL.

`Store.apply_events` adds each batch's events to one row (`training_count`) as the last
statement of its transaction; every worker updates that row, so a worker's UPDATE waits for
another's commit. `--workers` stores (one engine each, as processes have) apply `--batches`
batches of `--batch` interactions each, all at once, with the count and, as the baseline,
without it (`_count_applied` answering at once, no statement), alternated `--rounds` times;
printed: batches a second, the time per batch (p50, p99) and, with the count, the time the
UPDATE took, lock wait included:

    .venv/bin/python bench/training_count.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/ciq_count --workers 4
"""

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta
from typing import Any

from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import InteractionRecorded
from contextiq.store.migrate import upgrade_async
from contextiq.store.records import TrainingCount
from contextiq.store.store import Store, utcnow

count_applied = Store._count_applied


async def _events(store: Store, n: int) -> list[InteractionRecorded]:
    start = utcnow() - timedelta(hours=1)
    items = [
        Interaction(
            uuid.uuid4().hex, f"u{k % 5_000}", f"c{k % 2_000}", InteractionType.VIEW, 1.0,
            start + timedelta(milliseconds=k),
        )
        for k in range(n)
    ]  # fmt: skip
    for at in range(0, n, 5_000):
        await store.record_interactions(items[at : at + 5_000])
    return [InteractionRecorded(i) for i in items]


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


async def _run(
    stores: list[Store], events: list[InteractionRecorded], batch: int, counted: bool
) -> dict[str, Any]:
    updates: list[float] = []

    async def timed(session: Any, n: int) -> TrainingCount:
        began = time.perf_counter()
        try:
            return await count_applied(session, n)
        finally:
            updates.append(time.perf_counter() - began)

    async def uncounted(session: Any, n: int) -> TrainingCount:
        return TrainingCount(0, 0)

    Store._count_applied = staticmethod(timed if counted else uncounted)  # type: ignore[method-assign]
    share = len(events) // len(stores)
    per_batch: list[float] = []

    async def worker(store: Store, mine: list[InteractionRecorded]) -> None:
        for at in range(0, len(mine), batch):
            began = time.perf_counter()
            await store.apply_events(mine[at : at + batch])
            per_batch.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(
        *(worker(s, events[i * share : (i + 1) * share]) for i, s in enumerate(stores))
    )
    wall = time.perf_counter() - began
    Store._count_applied = staticmethod(count_applied)  # type: ignore[method-assign]
    return {
        "batches_per_s": len(per_batch) / wall,
        "batch_p50_ms": _p(per_batch, 50),
        "batch_p99_ms": _p(per_batch, 99),
        "update_p50_ms": _p(updates, 50),
        "update_p99_ms": _p(updates, 99),
        "update_max_ms": max(updates, default=0.0) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batches", type=int, default=200, help="per worker and run")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    await upgrade_async(args.database_url)
    stores = [Store(args.database_url) for _ in range(args.workers)]
    n = args.workers * args.batches * args.batch
    try:
        for r in range(args.rounds):
            for counted in (False, True):
                events = await _events(stores[0], n)
                result = await _run(stores, events, args.batch, counted)
                label = "counted  " if counted else "uncounted"
                shown = "  ".join(
                    f"{k} {v:7.1f}" for k, v in result.items() if counted or "update" not in k
                )
                print(f"round {r} {label} {shown}", flush=True)
        print("count:", await stores[0].training_count())
    finally:
        for store in stores:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
