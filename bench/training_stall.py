"""How long a training round holds up the event loop of the process it runs in: the serving
process on `local://` events, or a worker whose Kafka heartbeats run on that loop.

    .venv/bin/python bench/training_stall.py --database-url sqlite+aiosqlite:////tmp/stall.db

Seeds demo data (no item vectors) into an empty database first, then runs one round
(`training_round`) while a probe sleeps 5 ms at a time and records how late each wake-up
is, and `gc.callbacks` time each full collection. The same script run against another
checkout (PYTHONPATH) gives the baseline on the same database.
"""

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from contextiq.cli.bootstrap import seed_demo
from contextiq.config import Settings
from contextiq.recommend.models import ModelHolder
from contextiq.store.migrate import upgrade
from contextiq.store.store import Store
from contextiq.worker.training import training_round

TICK = 0.005


class FullCollections:
    """Count and total time of the collector's full (generation 2) passes."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.count += 1
            self.seconds += took
            self.longest = max(self.longest, took)


async def probe(lags: list[float]) -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(TICK)
        lags.append(time.perf_counter() - started - TICK)


async def measure(settings: Settings, items: int, users: int, events: int) -> None:
    store = Store(settings.database_url)
    try:
        if not await store.content_count():
            await seed_demo(settings, print, items=items, users=users, interactions=events)
        holder = ModelHolder(Path(tempfile.mkdtemp()), store)
        lags: list[float] = []
        collections = FullCollections()
        gc.callbacks.append(collections)
        prober = asyncio.create_task(probe(lags))
        started = time.perf_counter()
        await training_round(store, holder, settings.model)
        took = time.perf_counter() - started
        prober.cancel()
        gc.callbacks.remove(collections)
    finally:
        await store.close()
    ordered = sorted(lags)
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99)]
    late = [lag for lag in lags if lag > 0.1]
    print(
        f"round {took:.1f}s ({settings.model}); loop lag: p50 {p50 * 1e3:.1f} ms,"
        f" p99 {p99 * 1e3:.0f} ms, max {ordered[-1] * 1e3:.0f} ms;"
        f" {len(late)} stalls over 100 ms totalling {sum(late):.1f}s;"
        f" {collections.count} full collections, {collections.seconds:.1f}s in all,"
        f" longest {collections.longest * 1e3:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--model", default=None, help="default: CONTEXTIQ_MODEL")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, llm_url="none://")
    if args.model:
        settings = settings.model_copy(update={"model": args.model})
    upgrade(settings.database_url)
    asyncio.run(measure(settings, args.items, args.users, args.events))


if __name__ == "__main__":
    main()
