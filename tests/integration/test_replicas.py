"""Two `contextiq serve` processes on one database and one cache behave as one service.

Both pairs a deployment shares run: PostgreSQL and Redis across hosts, and on one host the
embedded SQLite file with a `disk://` cache.

What one replica is told (a new item, an interaction) the other must act on at once or
within seconds, without waiting for the next model promotion or for the worker.
"""

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.registry import ModelRegistry
from contextiq.ml.train import TrainReport
from contextiq.recommend.models import item_features
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.integration.conftest import (
    CONTEXTIQ,
    N_ITEMS,
    Api,
    Daemon,
    contextiq_env,
    eventually,
    free_port,
    fresh_pg_database,
    with_catalogue,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Shared:
    """What the processes of one service share."""

    database_url: str
    cache_url: str

    def env(self, tmp_path: Path) -> dict[str, str]:
        return contextiq_env(tmp_path, database_url=self.database_url, cache_url=self.cache_url)


@pytest.fixture(params=["postgres-redis", "sqlite-disk"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Shared]:
    """PostgreSQL and Redis, or one host's SQLite file and `disk://` cache: the small catalogue."""
    if request.param == "sqlite-disk":
        url = f"sqlite+aiosqlite:///{tmp_path / 'contextiq.db'}"
        await upgrade_async(url)
        yield Shared(await with_catalogue(url), f"disk://{tmp_path / 'cache.db'}")
        return
    cache_url = request.getfixturevalue("redis_url")
    async with fresh_pg_database() as url:
        yield Shared(await with_catalogue(url), cache_url)


async def train_on_categories(url: str, model_dir: Path) -> None:
    """A small model where each user liked one category (c{n} is in category n % 3)."""
    store = Store(url)
    try:
        items = [item_features(c) for c in await store.all_content()]
    finally:
        await store.close()
    interactions = [
        WeightedInteraction(f"u{u}", f"c{n}", 3.0)
        for u in range(30)
        for n in range(u % 3, N_ITEMS, 3)
        if (n + u) % 4
    ]
    model = EmbeddingRecommender(EmbeddingConfig(dim=16, max_epochs=5, refit=False, seed=1))
    model.fit(interactions, items)
    registry = ModelRegistry(model_dir)
    report = TrainReport(model, {}, None, True, 0.0, 30, N_ITEMS, len(interactions))
    registry.promote(registry.save(model, report))


async def two_replicas(tmp_path: Path, shared: Shared) -> tuple[Api, Api]:
    await train_on_categories(shared.database_url, tmp_path / "models")
    env = shared.env(tmp_path)
    first, second = Api(tmp_path, "first", env), Api(tmp_path, "second", env)
    await first.started()
    await second.started()
    return first, second


async def recommended(client: httpx.AsyncClient, user_id: str) -> set[str]:
    got = await client.get("/api/v1/recommendations", params={"user_id": user_id, "limit": 100})
    assert got.status_code == 200, got.text
    return {i["content_id"] for i in got.json()["items"]}


async def test_an_item_put_on_one_replica_is_scored_by_the_other(
    tmp_path: Path, shared: Shared
) -> None:
    first, second = await two_replicas(tmp_path, shared)
    try:
        async with (
            httpx.AsyncClient(base_url=first.base_url, timeout=10) as one,
            httpx.AsyncClient(base_url=second.base_url, timeout=10) as other,
        ):
            for user_id in ("fan", "other-fan"):  # lists of one are cached for both
                for content_id in ("c0", "c3", "c6"):  # category "music"
                    body = {
                        "user_id": user_id,
                        "content_id": content_id,
                        "interaction_type": "like",
                    }
                    assert (await other.post("/api/v1/interact", json=body)).status_code == 202
            assert "fresh-1" not in await recommended(other, "other-fan")

            item = {"content_id": "fresh-1", "title": "Fresh", "category": "music", "tags": ["t"]}
            assert (await one.put("/api/v1/content", json=[item])).status_code == 200
            assert "fresh-1" in await recommended(one, "fan")  # the writer knows it at once

            async def scored_by_the_other() -> bool:
                got = await other.get("/api/v1/content/fresh-1/similar")
                # The model's neighbours carry its scores; the fallback list scores 0.
                return any(i["score"] != 0.0 for i in got.json()["items"])

            await eventually(scored_by_the_other, 10, "the other replica to score the new item")
            assert "fresh-1" in await recommended(other, "other-fan")
    finally:
        first.stop()
        second.stop()
    assert "folded 1 new items" in second.log()


async def test_a_profile_read_on_one_replica_counts_a_write_just_made_on_the_other(
    tmp_path: Path, shared: Shared
) -> None:
    first, second = await two_replicas(tmp_path, shared)
    kinds = ["view", "like", "save", "like", "share", "skip", "like", "view"]
    try:
        async with (
            httpx.AsyncClient(base_url=first.base_url, timeout=10) as one,
            httpx.AsyncClient(base_url=second.base_url, timeout=10) as other,
        ):
            for n, kind in enumerate(kinds, start=1):
                writer, reader = (one, other) if n % 2 else (other, one)
                body = {"user_id": "reader", "content_id": f"c{n}", "interaction_type": kind}
                assert (await writer.post("/api/v1/interact", json=body)).status_code == 202
                profile = (await reader.get("/api/v1/user-profile/reader")).json()
                assert profile["total"] == n
                assert profile["counts"][kind] == kinds[:n].count(kind)
                assert profile["recent"][0]["content_id"] == f"c{n}"
    finally:
        first.stop()
        second.stop()


@contextlib.asynccontextmanager
async def serving_with_workers(
    tmp_path: Path, shared: Shared
) -> AsyncIterator[tuple[Daemon, httpx.AsyncClient, int]]:
    """`contextiq serve --workers 2` on a shared database and cache, answering `/health`."""
    port = free_port()
    env = shared.env(tmp_path)
    server = Daemon(
        [str(CONTEXTIQ), "serve", "--workers", "2", "--port", str(port)],
        tmp_path / "workers.log",
        env,
    )
    server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def up() -> bool:
                try:
                    return (await client.get("/api/v1/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, 90, "serve --workers 2 to answer")
            yield server, client, port
            await eventually(up, 30, "serve --workers 2 to answer still")
    finally:
        server.stop()


async def _likes_relayed(
    client: httpx.AsyncClient, shared: Shared, users: list[str], within: float
) -> None:
    """Each of `users` likes an item (the n-th, `cn`), and the duties process relays them all."""
    for n, user in enumerate(users):
        body = {"user_id": user, "content_id": f"c{n}", "interaction_type": "like"}
        assert (await client.post("/api/v1/interact", json=body)).status_code == 202
    store = Store(shared.database_url)
    try:

        async def relayed() -> bool:
            return await store.pending_outbox() == 0

        await eventually(relayed, within, "the duties process to relay every event")
    finally:
        await store.close()


async def test_serve_with_two_workers_shares_one_relay(tmp_path: Path, shared: Shared) -> None:
    await train_on_categories(shared.database_url, tmp_path / "models")
    async with serving_with_workers(tmp_path, shared) as (server, client, _):
        await _likes_relayed(client, shared, [f"w{n % 4}" for n in range(20)], 30)
        profile = (await client.get("/api/v1/user-profile/w1")).json()
        assert profile["total"] == 5
    log = server.log()
    assert "relaying the outbox for the serving processes" in log
    assert log.count("relaying the outbox") == 1


def _listening_pids(port: int) -> set[int]:
    """Processes holding a listening socket on `port` (each request process has its own)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                    found.add(int(entry.name))
    return found


async def test_serve_replaces_a_request_process_that_dies(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    async with serving_with_workers(tmp_path, Shared(pg_url, redis_url)) as (server, _, port):

        async def two_listening() -> bool:
            return len(_listening_pids(port)) == 2

        await eventually(two_listening, 90, "two request processes to listen")
        victim = min(_listening_pids(port))
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            now = _listening_pids(port)
            return len(now) == 2 and victim not in now

        await eventually(replaced, 90, "a new request process in place of the killed one")
    assert "exited (exit code -9): starting another" in server.log()


async def _duties_pid(server: Daemon) -> int:
    """The duties process's id, from the line `serve` logs when it starts one."""
    started = re.compile(r"relay and embedded worker in process (\d+)")

    async def logged() -> bool:
        return started.search(server.log()) is not None

    await eventually(logged, 30, "the duties process to start")
    found = started.search(server.log())
    assert found is not None
    return int(found[1])


async def _relayed_after(
    server: Daemon, client: httpx.AsyncClient, shared: Shared, pid: int
) -> None:
    """`serve` killed the duties process `pid` and started another, which relays what comes."""

    async def replaced() -> bool:
        return f"duties process {pid} exited (exit code -9): starting another" in server.log()

    await eventually(replaced, 90, "a new duties process in place of the old one")
    await _likes_relayed(client, shared, ["after"] * 5, 60)


async def test_serve_replaces_its_duties_process_when_it_dies(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    """Old code started the relay's process once: killed (an OOM kill in a training round,
    say), interactions were still accepted and none reached the worker again."""
    shared = Shared(pg_url, redis_url)
    async with serving_with_workers(tmp_path, shared) as (server, client, _):
        pid = await _duties_pid(server)
        os.kill(pid, signal.SIGKILL)
        await _relayed_after(server, client, shared, pid)


async def test_serve_replaces_its_duties_process_when_its_loop_stands_still(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    """A duties process that lives but no longer turns (stopped here) relays nothing: once
    its heartbeat has been silent for STALE_AFTER_SECONDS, `serve` kills it and starts another."""
    shared = Shared(pg_url, redis_url)
    async with serving_with_workers(tmp_path, shared) as (server, client, _):
        pid = await _duties_pid(server)
        os.kill(pid, signal.SIGSTOP)
        await _relayed_after(server, client, shared, pid)
    assert f"duties process {pid}: its event loop has been silent for" in server.log()


def test_serve_with_workers_needs_a_shared_cache(tmp_path: Path) -> None:
    env = contextiq_env(tmp_path, cache_url="memory://")
    done = subprocess.run(
        [str(CONTEXTIQ), "serve", "--workers", "2"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "CONTEXTIQ_CACHE_URL=disk://" in done.stderr
