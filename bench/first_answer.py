"""Share of first (uncached) answers that carry language-model scores, under a paced load.

    .venv/bin/python bench/first_answer.py [--items 2000] [--users 2000] [--rate 20]

Bootstraps the demo data with `local://` (item vectors computed, as `contextiq seed` does),
then serves it twice: with the stored item vectors, and with them deleted (a catalogue whose
vectors are still to come: requests never embed, so answers carry language-model scores only
as the worker's background completion stores vectors). Each run asks every user once, at a
fixed rate (an asyncio httpx client; latency counted from each request's scheduled time),
with the response cache off, so every answer is a user's first. An answer "carries LLM scores"
when every item in it has one.
"""

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from loadgen import BIN, free_port, process


async def paced(url: str, users: list[str], rate: float) -> tuple[float, float, float, float]:
    """(share of answers fully scored, share of items scored, p50 ms, p99 ms)."""
    latencies: list[float] = []
    full = items = scored = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        start = time.perf_counter() + 0.5

        async def one(n: int, user: str) -> None:
            nonlocal full, items, scored
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            response = await client.get(
                "/api/v1/recommendations", params={"user_id": user, "limit": 10}
            )
            latencies.append((time.perf_counter() - due) * 1000)
            body = response.json()
            assert not body["cached"], "the response cache must be off"
            got = [i["llm_score"] is not None for i in body["items"]]
            full += bool(got) and all(got)
            items += len(got)
            scored += sum(got)

        await asyncio.gather(*(one(n, u) for n, u in enumerate(users)))
    cuts = statistics.quantiles(latencies, n=100)
    return full / len(users), scored / max(items, 1), cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="contextiq-first-answer-"))
    db = root / "db.sqlite"
    env = {
        "CONTEXTIQ_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "CONTEXTIQ_MODEL_DIR": str(root / "models"),
        "CONTEXTIQ_LLM_URL": "local://",
        "CONTEXTIQ_CACHE_TTL_SECONDS": "0",
        "CONTEXTIQ_RETRAIN_EVERY_EVENTS": "0",
        "CONTEXTIQ_RETRAIN_EVERY_SECONDS": "0",
    }
    settings = Settings(
        _env_file=None,
        database_url=env["CONTEXTIQ_DATABASE_URL"],
        model_dir=root / "models",
    )
    started = time.perf_counter()
    bootstrap(settings, print, demo_items=args.items, demo_users=args.users)
    print(f"bootstrap with item vectors: {time.perf_counter() - started:.0f}s")
    users = [f"user_{n:03d}" for n in range(1, args.users + 1)]
    half = len(users) // 2
    rows = []
    for label, subset in (("stored item vectors", users[:half]), ("no item vectors", users[half:])):
        if label == "no item vectors":
            with sqlite3.connect(db) as conn:
                conn.execute("DELETE FROM item_vectors")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with process(
            [str(BIN / "contextiq"), "serve"],
            {**env, "CONTEXTIQ_PORT": str(port)},
            f"{url}/api/v1/health",
        ):
            time.sleep(20)  # the model thread warms up in the background
            rows.append((label, asyncio.run(paced(url, subset, args.rate))))
    shutil.rmtree(root, ignore_errors=True)
    print(
        f"\n{args.items:,} items, {half:,} distinct users per run, {args.rate:g} requests/s, "
        "every answer a user's first (response cache off)\n"
    )
    print("| item vectors | answers with LLM scores | items with LLM scores | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for label, (full, share, p50, p99) in rows:
        print(f"| {label} | {full:.1%} | {share:.1%} | {p50:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
