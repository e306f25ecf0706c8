"""What recording impressions costs the read path, and how fast an experiment report is.

    .venv/bin/python bench/impressions.py throughput [--seconds 10] [--rounds 2]
    .venv/bin/python bench/impressions.py report [--impressions 1000000]
    .venv/bin/python bench/impressions.py late-clicks [--late-share 0.99] [--database-url URL]

`throughput`: the demo data of bench/serve.py; `contextiq serve` with impressions recorded
(`CONTEXTIQ_RECORD_IMPRESSIONS=true`, the default) and without, alternating, for cache hits
and cache misses, `rounds` times each; wrk as in bench/serve.py. Prints requests/s per run
and the median ratio with/without, and the server's CPU time per request (user + system,
from /proc, including the relay and worker catching up for a second after wrk): on a
machine shared with other jobs, requests/s follow the neighbours' load, CPU per request
much less.

`report`: a SQLite database with an experiment of two arms and `impressions` impressions
(10 items each, one in eight clicked) applied through the worker's own path
(`Store.apply_events`, impressions in `ImpressionBatch`es as the outbox carries them), then
`GET /api/v1/experiments/{name}` timed over 50 requests against `contextiq serve`.

`late-clicks`: 500 users shown 20 lists each in the last hour, then the worker's apply of one
batch of 500 clicks that name no list, every user's click of now against `late_share` of them
sent 30 minutes late (each late user gets a bound of its own in the attribution lookup),
alternating, on a new database (SQLite by default).
"""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import ImpressionBatch, InteractionRecorded, served_list
from contextiq.experiments.assignment import assign
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.experiments.impressions import time_ordered_id
from contextiq.store.experiments import ExperimentStore
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from loadgen import BIN, free_port, process, wrk
from serve import RANDOM_USER, USERS, bootstrapped_demo, env_for, visit_every_user


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(seconds: int, connections: int, rounds: int) -> None:
    root = bootstrapped_demo()
    results: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for scenario, ttl in (("cache hit", 300), ("cache miss", 0)):
            for record in (False, True):
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                env = env_for(root, port, ttl) | {
                    "CONTEXTIQ_RECORD_IMPRESSIONS": str(record).lower()
                }
                command = [str(BIN / "contextiq"), "serve"]
                with process(command, env, f"{url}/api/v1/health") as server:
                    if ttl:
                        visit_every_user(url)
                    time.sleep(1)
                    before = cpu_seconds(server.pid)
                    r = wrk(url, RANDOM_USER, seconds=seconds, connections=connections)
                    time.sleep(1)  # the relay and worker catch up
                    cpu_us = (cpu_seconds(server.pid) - before) / (r.rps * seconds) * 1e6
                label = "with" if record else "without"
                print(
                    f"{scenario}, {label} impressions: {r.rps:,.0f} req/s, "
                    f"p50 {r.p50_ms:.2f} ms, {cpu_us:,.0f} µs CPU/request, {r.errors} errors"
                )
                results.setdefault((scenario, record), []).append((r.rps, cpu_us))
    print(f"\n{USERS} users, 2,000 items, {connections} connections, {seconds}s per run\n")
    print(
        "| scenario | without (req/s) | with (req/s) | with / without "
        "| CPU µs/request without | with | with / without |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for scenario in ("cache hit", "cache miss"):
        off = statistics.median(rps for rps, _ in results[(scenario, False)])
        on = statistics.median(rps for rps, _ in results[(scenario, True)])
        cpu_off = statistics.median(cpu for _, cpu in results[(scenario, False)])
        cpu_on = statistics.median(cpu for _, cpu in results[(scenario, True)])
        print(
            f"| {scenario} | {off:,.0f} | {on:,.0f} | {on / off:.3f} "
            f"| {cpu_off:,.0f} | {cpu_on:,.0f} | {cpu_on / cpu_off:.3f} |"
        )


async def fill(url: str, impressions: int, users: int, items: int, seed: int = 5) -> None:
    """Impressions and clicks through the worker's apply path, in batches like the relay's."""
    await upgrade_async(url)
    store = Store(url)
    experiments = ExperimentStore(store)
    start = datetime.now(UTC) - timedelta(days=6)
    arms = (Arm("control", 1.0, ArmConfig()), Arm("treatment", 1.0, ArmConfig(ml_weight=0.3)))
    await experiments.create(Experiment("bench", arms, False, start, None, start))
    rng = random.Random(seed)
    weights = [("control", 1.0), ("treatment", 1.0)]
    arm_of = {f"u{n}": assign("bench", f"u{n}", weights) for n in range(users)}
    batch = 1_000
    began = time.monotonic()
    for first in range(0, impressions, batch):
        shown_lists: list[tuple[str, str, str, int]] = []
        clicks: list[InteractionRecorded] = []
        for n in range(first, min(impressions, first + batch)):
            user = f"u{rng.randrange(users)}"
            shown = start + timedelta(seconds=n * 0.5)
            listed = rng.sample(range(items), 10)
            rid = time_ordered_id(int(shown.timestamp() * 1000))
            pairs = [(f"content_{i:04d}", 1.0 - k / 10) for k, i in enumerate(listed)]
            listing = served_list(pairs, "v1", "bench", arm_of[user], None)
            shown_lists.append((rid, user, listing, int(shown.timestamp() * 1000)))
            if rng.random() < (0.14 if arm_of[user] == "treatment" else 0.11):
                clicks.append(
                    InteractionRecorded(
                        Interaction(
                            uuid.uuid4().hex,
                            user,
                            f"content_{listed[rng.randrange(3)]:04d}",
                            InteractionType.VIEW,
                            1.0,
                            shown + timedelta(seconds=5),
                            recommendation_id=rid if rng.random() < 0.5 else None,
                        )
                    )
                )
        await store.apply_events([ImpressionBatch.of(shown_lists), *clicks])
        done = min(impressions, first + batch)
        if done % 50_000 == 0:
            rate = done / (time.monotonic() - began)
            print(f"{done:,} impressions applied ({rate:,.0f}/s)", flush=True)
    await store.close()


async def late_clicks(url: str, late_share: float, rounds: int = 12) -> None:
    users, per_user = 500, 20
    await upgrade_async(url)
    store = Store(url)
    now = datetime.now(UTC)
    shown_lists = []
    for u in range(users):
        for k in range(per_user):
            ms = int((now - timedelta(minutes=60 - k)).timestamp() * 1000)
            pairs = [(f"c{(u + k + j) % 500}", 1.0) for j in range(10)]
            shown_lists.append(
                (time_ordered_id(ms), f"u{u}", served_list(pairs, "v1", "", "", None), ms)
            )
    await store.apply_events([ImpressionBatch.of(shown_lists)])
    times: dict[float, list[float]] = {0.0: [], late_share: []}
    for r in range(rounds):
        for share in (0.0, late_share) if r % 2 else (late_share, 0.0):
            clicks = [
                Interaction(
                    uuid.uuid4().hex,
                    f"u{u}",
                    f"c{u % 500}",
                    InteractionType.VIEW,
                    1.0,
                    now - timedelta(minutes=30) if u < share * users else now,
                )
                for u in range(users)
            ]
            await store.record_interactions(clicks)  # applied only while their rows exist
            began = time.perf_counter()
            await store.apply_events([InteractionRecorded(c) for c in clicks])
            times[share].append((time.perf_counter() - began) * 1000)
    await store.close()
    base, late = statistics.median(times[0.0]), statistics.median(times[late_share])
    print(
        f"apply of 500 clicks naming no list: {base:.1f} ms with none late, {late:.1f} ms with "
        f"{late_share:.0%} late ({late / base:.2f}x; medians of {rounds})"
    )


def report(impressions: int) -> None:
    root = bootstrapped_demo()
    url = env_for(root, 0, 300)["CONTEXTIQ_DATABASE_URL"]
    asyncio.run(fill(url, impressions, users=50_000, items=2_000))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "contextiq"), "serve"]
    with (
        process(command, env_for(root, port, 300), f"{url}/api/v1/health"),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        body = client.get("/api/v1/experiments/bench").json()
        times = []
        for _ in range(50):
            began = time.perf_counter()
            assert client.get("/api/v1/experiments/bench").status_code == 200
            times.append((time.perf_counter() - began) * 1000)
    stored = sum(a["impressions"] for a in body["arms"])
    times.sort()
    print(f"\n{stored:,} impressions stored; verdict: {body['verdict']}")
    print(
        f"GET /api/v1/experiments/bench: median {statistics.median(times):.1f} ms, "
        f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms, max {times[-1]:.1f} ms (50 requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    tp = sub.add_parser("throughput")
    tp.add_argument("--seconds", type=int, default=10)
    tp.add_argument("--connections", type=int, default=32)
    tp.add_argument("--rounds", type=int, default=2)
    rp = sub.add_parser("report")
    rp.add_argument("--impressions", type=int, default=1_000_000)
    lp = sub.add_parser("late-clicks")
    lp.add_argument("--late-share", type=float, default=0.99)
    lp.add_argument("--database-url", help="a migrated-or-empty database; default a new SQLite")
    args = parser.parse_args()
    if args.command == "throughput":
        throughput(args.seconds, args.connections, args.rounds)
    elif args.command == "report":
        report(args.impressions)
    else:
        folder = Path(tempfile.mkdtemp())
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'late.db'}"
        asyncio.run(late_clicks(url, args.late_share))


if __name__ == "__main__":
    main()
