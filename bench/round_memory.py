"""A long-lived process's memory before and after its training rounds, as a worker's.

    .venv/bin/python bench/round_memory.py --database-url sqlite+aiosqlite:////tmp/big.db

Runs `--rounds` rounds (`training_round`, as the worker's `Retrainer` does) on the stored
data, into a fresh models folder, one after the other in this process; the first promotes
a model, so each later round starts with one serving, as a worker's rounds do. Prints the
resident memory (anonymous and file-backed: the model's arrays are memory-mapped) before
the first round and after each, and each round's peak. The same script run against
another checkout (PYTHONPATH) gives the baseline on the same database. `--window-days`
trains on the events of that many days up to the newest (`CONTEXTIQ_TRAINING_WINDOW_DAYS`).
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from contextiq.config import Settings
from contextiq.recommend.models import ModelHolder
from contextiq.store.store import Store
from contextiq.worker.training import training_round

MIB = 2**20


def memory() -> dict[str, int]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process, in bytes."""
    fields = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            found[name] = int(value.split()[0]) * 1024
    return found


def say(when: str, started: float) -> None:
    m = memory()
    print(
        f"{when} ({time.perf_counter() - started:.0f}s): RSS {m['VmRSS'] / MIB:,.0f} MiB"
        f" (anonymous {m['RssAnon'] / MIB:,.0f}, files {m['RssFile'] / MIB:,.0f}),"
        f" peak so far {m['VmHWM'] / MIB:,.0f} MiB",
        flush=True,
    )


async def measure(settings: Settings, rounds: int, window_days: float) -> None:
    store = Store(settings.database_url)
    started = time.perf_counter()
    try:
        holder = ModelHolder(Path(tempfile.mkdtemp()), store)
        say("before the first round", started)
        for number in range(1, rounds + 1):
            await training_round(store, holder, settings.model, window_days=window_days)
            say(f"after round {number}", started)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window-days", type=float, default=0.0)
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, llm_url="none://")
    asyncio.run(measure(settings, args.rounds, args.window_days))


if __name__ == "__main__":
    main()
