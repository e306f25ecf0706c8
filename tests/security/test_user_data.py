"""Erasure and export: after DELETE no row, cache key or next model mentions the user."""

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
import redis
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cache.memory import MemoryCache
from contextiq.cli.bootstrap import bootstrap
from contextiq.domain import Content, Interaction, InteractionType, session_subject
from contextiq.events.local import LocalBus
from contextiq.events.relay import OutboxRelay
from contextiq.events.types import InteractionRecorded, UserDeleted, decode_event
from contextiq.recommend.response_cache import RecommendationCache, user_key
from contextiq.security.audit import user_pseudonym
from contextiq.services import Services
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import Base
from contextiq.worker.processor import EventProcessor, Retrainer
from contextiq.worker.training import load_training_data
from tests.conftest import embedded_settings
from tests.integration.conftest import pg_url, redis_url  # noqa: F401 (fixtures)

USER = "erase-me-7"
ADMIN = {"X-API-Key": "admin-key-for-erasure-tests"}


def _wait(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _rows_mentioning(database: Path, needle: str) -> list[str]:
    found = []
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                if any(needle in str(value) for value in row):
                    found.append(f"{table}: {row}")
    return found


T = TypeVar("T")


def _held(
    compute: Callable[..., Awaitable[T]], computed: threading.Event, erased: threading.Event
) -> Callable[..., Awaitable[T]]:
    """`compute`, then held (off the event loop) until the test has erased its user."""

    async def held(*args: Any, **kwargs: Any) -> T:
        result = await compute(*args, **kwargs)
        computed.set()
        await anyio.to_thread.run_sync(erased.wait)
        return result

    return held


def _cache_keys(services: Services, url: str | None) -> list[str]:
    if url is None:
        cache = services.cache
        assert isinstance(cache, MemoryCache)
        return [*cache._entries, *cache._counters]
    return [k.decode() for k in redis.Redis.from_url(url).keys("*")]


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.integration)],
)
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TestClient, Path, str | None]]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = embedded_settings(
        tmp_path, admin_key=ADMIN["X-API-Key"], **({"cache_url": url} if url else {})
    )
    bootstrap(settings, lambda _: None, demo_items=40, demo_users=8)
    with TestClient(create_app(settings)) as client:
        yield client, tmp_path, url


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def _model_versions(client: TestClient) -> list[str]:
    body: dict[str, Any] = client.get("/api/v1/models").json()
    return [v["version"] for v in body["history"]]


def _train(client: TestClient) -> str:
    before = set(_model_versions(client))
    assert client.post("/api/v1/models/retrain", headers=ADMIN).status_code == 202
    _wait(lambda: bool(set(_model_versions(client)) - before), "a new model", 120)
    return (set(_model_versions(client)) - before).pop()


def test_erasure_leaves_nothing_behind(deployment: tuple[TestClient, Path, str | None]) -> None:
    client, root, redis_url = deployment  # noqa: F811
    services = _services(client)
    contents = [c["content_id"] for c in client.get("/api/v1/content").json()["items"][:3]]
    for n, content_id in enumerate(contents):
        event = {
            "user_id": USER,
            "content_id": content_id,
            "interaction_type": "like",
            "event_id": f"{USER}-event-{n}",
        }
        assert client.post("/api/v1/interact", json=event).status_code == 202
    _wait(lambda: client.get(f"/api/v1/user-profile/{USER}").json()["total"] == 3, "stats")
    _train(client)
    assert client.get("/api/v1/recommendations", params={"user_id": USER}).json()["personalized"]
    assert client.get("/api/v1/recommendations", params={"user_id": USER}).json()["cached"]
    client.portal.call(services.writer.flush)
    _wait(lambda: client.portal.call(services.store.pending_outbox) == 0, "the impressions")
    assert any(f"recs:{user_key(USER)}:" in k for k in _cache_keys(services, redis_url)), (
        "a cached list to erase"
    )

    export = client.get(f"/api/v1/users/{USER}/export", headers=ADMIN).json()
    assert [i["event_id"] for i in export["interactions"]] == [
        f"{USER}-event-{n}" for n in range(3)
    ]
    assert {s["interaction_type"]: s["count"] for s in export["stats"]} == {"like": 3}
    shown = export["impressions"]  # the cached answer's copy too
    assert len(shown) == 2 and shown[0]["list_id"] == shown[1]["list_id"]
    assert [entry["list_id"] for entry in export["served_lists"]] == [shown[0]["list_id"]]
    assert export["online_metrics"]

    response = client.delete(f"/api/v1/users/{USER}", headers=ADMIN)
    assert response.status_code == 200, response.text
    removed = response.json()["removed"]
    assert removed["interactions"] == 3 and removed["stats"] == 1 and removed["profile"] == 1
    assert removed["cached_recommendations"] >= 1

    database = root / "db.sqlite"
    _wait(lambda: not _rows_mentioning(database, USER), "the erasure to reach every table")
    keys = _cache_keys(services, redis_url)
    assert not [k for k in keys if USER in k or k.startswith(f"recs:{user_key(USER)}:")]
    # (A recommendations request now would be new activity, recorded as a new snapshot.)
    assert client.get(f"/api/v1/user-profile/{USER}").json()["total"] == 0
    audit = client.get("/api/v1/audit", headers=ADMIN).json()["entries"]
    assert [e["action"] for e in audit[:2]] == [
        "DELETE /api/v1/users/{user_id}",
        "GET /api/v1/users/{user_id}/export",
    ]
    assert audit[0]["target"].startswith("user:") and USER not in str(audit)

    version = _train(client)
    assert not _rows_mentioning(database, USER)
    for path in (root / "models" / version).rglob("*"):
        assert not path.is_file() or USER.encode() not in path.read_bytes(), path

    async def training_users() -> set[str]:
        store = Store(f"sqlite+aiosqlite:///{database}")
        try:
            return {i.user_id for i in await load_training_data(store)}
        finally:
            await store.close()

    users = asyncio.run(training_users())
    assert users and USER not in users


def test_a_list_computed_while_its_user_is_erased_is_neither_cached_nor_recorded(
    deployment: tuple[TestClient, Path, str | None],
) -> None:
    """A request computing when the erasure comes answers what it computed, and that is all:
    its list is not cached (the next request is computed from what is left: nothing) and its
    impression is not recorded. The order is the hooks': no timers."""
    client, root, _ = deployment
    services = _services(client)
    user, params = "user_003", {"user_id": "user_003", "limit": 6}
    before = client.get("/api/v1/recommendations", params={"user_id": user, "limit": 5})
    assert before.json()["personalized"]
    computed, erased = threading.Event(), threading.Event()
    recommend = services.arms.recommend

    answers: dict[str, Any] = {}
    late = threading.Thread(
        target=lambda: answers.update(late=client.get("/api/v1/recommendations", params=params))
    )
    services.arms.recommend = _held(recommend, computed, erased)  # type: ignore[method-assign]
    late.start()
    try:
        assert computed.wait(60), "the request never computed its list"
        assert client.delete(f"/api/v1/users/{user}", headers=ADMIN).status_code == 200
    finally:
        erased.set()
        late.join()
        services.arms.recommend = recommend  # type: ignore[method-assign]
    assert answers["late"].json()["personalized"]  # its cache put ran before it returned
    client.portal.call(services.writer.flush)  # an impression it buffered is in the outbox now
    left = _rows_mentioning(root / "db.sqlite", user)
    assert not [row for row in left if UserDeleted.type not in row], left
    again = client.get("/api/v1/recommendations", params=params).json()
    assert (again["cached"], again["personalized"]) == (False, False)


def test_a_list_still_computing_when_its_user_is_erased_leaves_no_snapshot(
    deployment: tuple[TestClient, Path, str | None],
) -> None:
    """The erasure drops the snapshots buffered so far; one that a request computing
    meanwhile records after it must be dropped too, not written once the erasure (and the
    worker's second pass over the user's rows) is over."""
    client, root, _ = deployment
    services = _services(client)
    user = "user_004"
    computing, erased = threading.Event(), threading.Event()
    compute = services.recommendations._compute

    late = threading.Thread(
        target=lambda: client.get("/api/v1/recommendations", params={"user_id": user})
    )
    services.recommendations._compute = _held(compute, computing, erased)  # type: ignore[method-assign]
    late.start()
    try:
        assert computing.wait(60), "the request never computed its list"
        assert client.delete(f"/api/v1/users/{user}", headers=ADMIN).status_code == 200
        _wait(lambda: client.portal.call(services.store.pending_outbox) == 0, "the erasure")
    finally:
        erased.set()
        late.join()
        services.recommendations._compute = compute  # type: ignore[method-assign]
    client.portal.call(services.snapshots.flush)
    client.portal.call(services.writer.flush)
    assert not _rows_mentioning(root / "db.sqlite", user)


def test_deleting_a_user_without_data_succeeds(
    deployment: tuple[TestClient, Path, str | None],
) -> None:
    client = deployment[0]
    response = client.delete("/api/v1/users/nobody-here", headers=ADMIN)
    assert response.status_code == 200
    assert set(response.json()["removed"].values()) == {0}
    assert client.delete("/api/v1/users/nobody-here").status_code == 401


def test_a_session_never_merged_is_exported_and_erased(
    deployment: tuple[TestClient, Path, str | None],
) -> None:
    """A visitor's session id can name a person as well as a user id can: the same export and
    erasure, by the session's own routes, leaving no row, cache key or audit entry naming it."""
    client, root, cache_url = deployment
    services = _services(client)
    visitor = "visit-erase-3f9"
    subject = session_subject(visitor)
    contents = [c["content_id"] for c in client.get("/api/v1/content").json()["items"][:2]]
    for content_id in contents:
        event = {"session_id": visitor, "content_id": content_id, "interaction_type": "like"}
        assert client.post("/api/v1/interact", json=event).status_code == 202
    params = {"session_id": visitor}
    assert client.get("/api/v1/recommendations", params=params).json()["personalized"]
    client.portal.call(services.writer.flush)
    _wait(lambda: client.portal.call(services.store.pending_outbox) == 0, "the impressions")

    path = f"/api/v1/sessions/{visitor}"
    assert client.get(f"{path}/export").status_code == 401  # admin only
    export = client.get(f"{path}/export", headers=ADMIN).json()
    assert export["session_id"] == visitor
    assert sorted(i["content_id"] for i in export["interactions"]) == sorted(contents)
    assert export["impressions"]

    response = client.delete(path, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == visitor
    assert response.json()["removed"]["interactions"] == 2
    _wait(lambda: not _rows_mentioning(root / "db.sqlite", visitor), "the erasure")
    keys = _cache_keys(services, cache_url)
    assert not [k for k in keys if visitor in k or k.startswith(f"recs:{user_key(subject)}:")]
    again = client.get("/api/v1/recommendations", params=params).json()
    assert (again["cached"], again["personalized"]) == (False, False)
    audit = client.get("/api/v1/audit", headers=ADMIN).json()["entries"]
    erased = [e for e in audit if e["action"] == "DELETE /api/v1/sessions/{session_id}"]
    assert [e["target"] for e in erased] == [user_pseudonym(subject)]
    assert visitor not in str(audit)
    assert client.delete("/api/v1/sessions/bad%20id", headers=ADMIN).status_code == 422


def test_the_worker_forgets_sessions_idle_past_the_retention(tmp_path: Path) -> None:
    """The purge runs in the worker from its start (`SessionRetention.purge_idle`, hourly): a
    visit idle 31 days is gone, one from today stays, without any request asking."""
    settings = embedded_settings(tmp_path, admin_key=ADMIN["X-API-Key"], session_retention_days=30)
    bootstrap(settings, lambda _: None, demo_items=20, demo_users=4)
    item = "content_0001"
    visits = [
        Interaction("idle-1", session_subject("idle-visit"), item, InteractionType.LIKE, 3.0,
                    utcnow() - timedelta(days=31)),
        Interaction("fresh-1", session_subject("fresh-visit"), item, InteractionType.LIKE, 3.0,
                    utcnow()),
    ]  # fmt: skip

    async def visited() -> None:
        store = Store(settings.database_url)
        try:
            await store.record_interactions(visits)
        finally:
            await store.close()

    asyncio.run(visited())
    with TestClient(create_app(settings)) as client:

        def held(session_id: str) -> list[dict[str, Any]]:
            path = f"/api/v1/sessions/{session_id}/export"
            interactions: list[dict[str, Any]] = client.get(path, headers=ADMIN).json()[
                "interactions"
            ]
            return interactions

        _wait(lambda: not held("idle-visit"), "the purge of the idle visit")
        assert [i["event_id"] for i in held("fresh-visit")] == ["fresh-1"]


def test_the_deletion_event_round_trips() -> None:
    event = UserDeleted(event_id="e1", user_id=USER, requested_at=utcnow())
    assert decode_event(event.to_wire()) == event
    assert event.key == USER


async def test_a_worker_applying_the_event_forgets_the_user(tmp_path: Path) -> None:
    """What another worker or replica does with the event: its rows and its own cache go,
    including an interaction that raced with the deletion in the same batch."""
    await upgrade_async(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    cache = RecommendationCache(MemoryCache(), 60)
    retrainer = Retrainer(lambda: asyncio.sleep(0), store, 0, 0)
    processor = EventProcessor(store, cache, retrainer)
    try:
        await store.upsert_content([Content("c1", "Title", "news")])
        raced = [
            Interaction(f"{user}-e", user, "c1", InteractionType.LIKE, 3.0, utcnow())
            for user in (USER, "keeper")
        ]
        await store.record_interactions(raced)
        await cache.invalidate_users([USER, "keeper"])
        await cache.put(await cache.lookup(USER, "v1"), b"[]")
        erasure = UserDeleted(event_id="d1", user_id=USER, requested_at=utcnow())
        await processor.handle([InteractionRecorded(i) for i in raced] + [erasure])
        assert (await store.user_profile(USER)).counts == {}
        assert (await store.user_profile("keeper")).counts == {"like": 1}
        assert await store.user_export(USER) == {
            "first_recorded_at": None,
            "interactions": [],
            "stats": [],
            "recommendations_served": [],
            "impressions": [],
            "served_lists": [],
            "experiments": [],
            "online_metrics": [],
            "dead_letters": [],
            "parked_reports": [],
        }
        memory = cache.cache
        assert isinstance(memory, MemoryCache)
        assert not [k for k in [*memory._entries, *memory._counters] if USER in k]
        assert not [k for k in memory._entries if k.startswith(f"recs:{user_key(USER)}:")]
        assert await memory.get_int(f"gen:user:{user_key('keeper')}") == 2
    finally:
        await store.close()


async def _erase_through_the_relay(url: str) -> None:
    """Deletion, relay and consumer on one store: the outbox row holding the erasure is locked
    by the relay (PostgreSQL) while the consumer erases the user, and goes once sent."""
    store = Store(url)
    bus = LocalBus()
    cache = RecommendationCache(MemoryCache(), 60)
    processor = EventProcessor(store, cache, Retrainer(lambda: asyncio.sleep(0), store, 0, 0))
    consumer = asyncio.create_task(bus.consume(processor.handle))
    await asyncio.sleep(0)
    relay = OutboxRelay(store, bus)
    try:
        content_id = (await store.list_content(None, None, 1, 0))[0][0].content_id
        await store.record_interactions(
            [
                Interaction(f"{USER}-{n}", USER, content_id, InteractionType.LIKE, 3.0, utcnow())
                for n in range(3)
            ]
        )
        await relay.drain_once()
        assert (await store.user_profile(USER)).counts == {"like": 3}
        removed = await store.delete_user(
            UserDeleted(event_id="erasure-1", user_id=USER, requested_at=utcnow())
        )
        assert removed["interactions"] == 3 and removed["events"] == 3
        assert await relay.drain_once() == 1
        assert await store.pending_outbox() == 0
        async with store.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                rows = (await conn.execute(table.select())).all()
                assert not [r for r in rows if USER in str(tuple(r))], table.name
    finally:
        consumer.cancel()
        await store.close()


async def test_erasure_through_the_relay_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    await upgrade_async(url)
    store = Store(url)
    await store.upsert_content([Content("c1", "Title", "news")])
    await store.close()
    await _erase_through_the_relay(url)


@pytest.mark.integration
async def test_erasure_through_the_relay_on_postgresql(pg_url: str) -> None:  # noqa: F811
    await _erase_through_the_relay(pg_url)
