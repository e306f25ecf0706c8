"""Business rules through the API, on SQLite and PostgreSQL: filters, availability, diversity,
promotions. Nothing filtered, hidden or expired may appear in any list, cached ones included."""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from contextiq.data.demo import CATEGORIES
from contextiq.recommend.service import RecommendationService
from contextiq.store.store import Store
from tests.conftest import embedded_settings
from tests.integration.conftest import ADMIN_URL, redis_url  # noqa: F401 (a fixture)
from tests.services import POSTGRES_HOST, POSTGRES_PORT, require

RECS = "/api/v1/recommendations"
ADMIN = {"X-Admin-Key": "admin-secret"}


async def _admin(sql: str) -> None:
    admin = Store(ADMIN_URL)
    try:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            await c.execute(text(sql))
    finally:
        await admin.close()


@contextlib.contextmanager
def deployment(root: Path, backend: str, **overrides: object) -> Iterator[Settings]:
    """A bootstrapped demo deployment on `backend`; a PostgreSQL one is dropped afterwards."""
    name = None
    if backend == "postgresql":
        require(POSTGRES_HOST, POSTGRES_PORT, "PostgreSQL")
        name = f"rules_it_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        overrides["database_url"] = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        settings = embedded_settings(root, admin_key="admin-secret", **overrides)
        bootstrap(settings, lambda _: None, demo_items=300, demo_users=80)
        yield settings
    finally:
        if name is not None:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp(f"rules-{request.param}")
    with deployment(root, request.param) as settings, TestClient(create_app(settings)) as c:
        yield c


def _recs(client: TestClient, user_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(RECS, params={"user_id": user_id, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [i["content_id"] for i in body["items"]]


def _upsert(client: TestClient, content_id: str, **changes: Any) -> None:
    item = client.get(f"/api/v1/content/{content_id}").json()
    for gone in ("available_from", "available_until"):
        if item.get(gone) is None:
            item.pop(gone, None)
    item.update(changes)
    response = client.put("/api/v1/content", json=[item])
    assert response.status_code == 200, response.text


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _untouched(client: TestClient, user_id: str) -> str:
    """An item `user_id` never interacted with (so a pin may show it to them)."""
    export = client.get(f"/api/v1/users/{user_id}/export", headers=ADMIN).json()
    seen = {i["content_id"] for i in export["interactions"]}
    return next(f"content_{n:04d}" for n in range(150, 300) if f"content_{n:04d}" not in seen)


def _everywhere(client: TestClient, limit: int = 50) -> set[str]:
    """Every id any list shows: personalized, popular/fresh, similar, cached repeats."""
    seen: set[str] = set()
    for user in ("user_001", "user_002", "someone_new"):
        for _ in range(2):  # the second comes from the cache
            seen.update(_ids(_recs(client, user, limit=limit)))
    for item in ("content_0001", "content_0002"):
        body = client.get(f"/api/v1/content/{item}/similar", params={"limit": 50}).json()
        seen.update(i["content_id"] for i in body["items"])
    return seen


def test_a_filter_syntax_error_is_a_400_with_its_position(client: TestClient) -> None:
    response = client.get(RECS, params={"user_id": "user_001", "filter": 'category == "a" and'})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_filter"
    assert error["details"]["position"] == len('category == "a" and')
    response = client.get(RECS, params={"user_id": "user_001", "filter": "category === 1"})
    assert response.json()["error"]["details"]["position"] == 11


def test_hidden_and_out_of_window_items_appear_nowhere(client: TestClient) -> None:
    top_user = _ids(_recs(client, "user_001", limit=3))
    top_new = _ids(_recs(client, "someone_new", limit=3))
    similar = client.get("/api/v1/content/content_0001/similar", params={"limit": 3}).json()
    targets = {*top_user, *top_new, *(i["content_id"] for i in similar["items"])}
    changes = [
        {"hidden": True},
        {"available_until": _iso(-timedelta(hours=1))},
        {"available_from": _iso(timedelta(days=1))},
    ]
    for n, item in enumerate(sorted(targets)):
        _upsert(client, item, **changes[n % 3])
    assert client.get(f"/api/v1/content/{sorted(targets)[0]}").json()["hidden"] is True
    assert not targets & _everywhere(client)
    for item in targets:  # visible again once the rules on them go
        _upsert(client, item, hidden=False, available_from=None, available_until=None)


def test_items_expire_by_time_even_from_the_cache(client: TestClient) -> None:
    first = _ids(_recs(client, "user_003", limit=5))
    popular = _ids(_recs(client, "someone_else_new", limit=5))
    ending = {first[0], popular[0]}
    for item in ending:
        _upsert(client, item, available_until=_iso(timedelta(seconds=3)))
    assert first[0] in _ids(_recs(client, "user_003", limit=5))
    cached = _recs(client, "user_003", limit=5)
    assert cached["cached"] is True and first[0] in _ids(cached)
    assert popular[0] in _ids(_recs(client, "someone_else_new", limit=5))
    time.sleep(3.2)
    assert not ending & set(_ids(_recs(client, "user_003", limit=5)))
    assert not ending & set(_ids(_recs(client, "someone_else_new", limit=5)))
    for item in ending:
        _upsert(client, item, available_until=None)


def test_an_item_appears_when_its_window_opens_even_from_the_cache(client: TestClient) -> None:
    """A list cached before an item's window opened was kept for the whole cache TTL, and
    went on leaving the item out (a launch at `available_from` missed for minutes)."""
    shown, opening = "content_0010", "content_0011"
    _upsert(client, shown, metadata={"launch": "x"})
    _upsert(client, opening, metadata={"launch": "x"}, available_from=_iso(timedelta(seconds=3)))
    for user in ("user_006", "launch_visitor"):
        assert _ids(_recs(client, user, filter='metadata.launch == "x"')) == [shown]
        cached = _recs(client, user, filter='metadata.launch == "x"')
        assert cached["cached"] is True and _ids(cached) == [shown]
    time.sleep(3.2)
    for user in ("user_006", "launch_visitor"):
        assert set(_ids(_recs(client, user, filter='metadata.launch == "x"'))) == {shown, opening}
    _upsert(client, shown, metadata={})
    _upsert(client, opening, metadata={}, available_from=None)


def test_a_selective_filter_still_fills_the_list(client: TestClient) -> None:
    chosen = [f"content_{n:04d}" for n in range(3, 300, 23)]  # 13 items of 300
    for item in chosen:
        _upsert(client, item, metadata={"flag": "yes", "price": 5})
    expression = 'metadata.flag == "yes" and metadata.price < 10'
    for user in ("user_004", "brand_new"):
        body = _recs(client, user, limit=10, filter=expression)
        assert len(body["items"]) == 10
        assert set(_ids(body)) <= set(chosen)
    similar = client.get(
        "/api/v1/content/content_0001/similar", params={"limit": 10, "filter": expression}
    ).json()
    assert len(similar["items"]) == 10 and {i["content_id"] for i in similar["items"]} <= set(
        chosen
    )
    excluded = chosen[:5]
    body = _recs(client, "brand_new", limit=8, filter=expression, exclude=",".join(excluded))
    assert len(body["items"]) == 8 and not set(excluded) & set(_ids(body))
    for item in chosen:
        _upsert(client, item, metadata={})


def test_categories_and_excluded_categories(client: TestClient) -> None:
    for user in ("user_005", "new_visitor"):
        body = _recs(client, user, limit=10, categories="music,art")
        assert len(body["items"]) == 10 and {i["category"] for i in body["items"]} <= {
            "music",
            "art",
        }
        body = _recs(client, user, limit=10, exclude_categories="music,art")
        assert len(body["items"]) == 10 and not {i["category"] for i in body["items"]} & {
            "music",
            "art",
        }
        assert _recs(client, user, filter="metadata.nothing_here == 1")["items"] == []


def test_max_per_category_holds_and_diversity_keeps_the_length(client: TestClient) -> None:
    for user in ("user_006", "new_reader"):
        for diversity in (0.0, 0.5, 1.0):
            body = _recs(client, user, limit=6, max_per_category=1, diversity=diversity)
            counts = Counter(i["category"] for i in body["items"])
            assert len(body["items"]) == 6
            assert max(counts.values()) == 1
        assert len(_recs(client, user, limit=10, diversity=1)["items"]) == 10


def test_a_category_cap_fills_the_list_beyond_the_users_pool(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2,000 items a user's 200 candidates held their 3 favourite categories: capped at 3
    a list had 9 of 10 items, capped at 1 it had 3, with seven more categories to give. The
    pool is shrunk to the list here, standing for a catalogue far larger than the pool."""
    monkeypatch.setattr(RecommendationService, "_pool_size", lambda _, request: request.limit)
    pin = {"name": "pin-9", "kind": "pin", "content_id": _untouched(client, "user_009")}
    for pinned in (False, True):  # a pin takes a category's place too
        if pinned:
            response = client.post("/api/v1/rules", json={**pin, "position": 1}, headers=ADMIN)
            assert response.status_code == 201
        for cap in (1, 2):
            for diversity in (0.0, 0.5):
                params = {"limit": 10, "max_per_category": cap, "diversity": diversity}
                body = _recs(client, "user_009", **params)
                counts = Counter(i["category"] for i in body["items"])
                assert len(body["items"]) == 10 and max(counts.values()) <= cap
                assert (body["items"][0]["content_id"] == pin["content_id"]) is pinned
    assert client.delete("/api/v1/rules/pin-9", headers=ADMIN).status_code == 204


def test_promotions_take_their_share_and_name_their_rule(client: TestClient) -> None:
    rules = "/api/v1/rules"
    body = _recs(client, "user_007", limit=10)
    absent = next(c for c in CATEGORIES if c not in {i["category"] for i in body["items"]})
    pinned = _untouched(client, "user_007")
    created = [
        {
            "name": "more-" + absent,
            "kind": "reserve",
            "filter": f'category == "{absent}"',
            "share": 0.3,
        },
        {"name": "pin-it", "kind": "pin", "content_id": pinned, "position": 2},
        {
            "name": "boost-all",
            "kind": "boost",
            "filter": 'category != ""',
            "factor": 1.5,
            "ends_at": _iso(timedelta(hours=1)),
        },
    ]
    for rule in created:
        response = client.post(rules, json=rule, headers=ADMIN)
        assert response.status_code == 201, response.text
    try:
        assert client.post(rules, json=created[0], headers=ADMIN).status_code == 409
        bad = client.post(
            rules, json={**created[0], "name": "bad", "filter": "category =="}, headers=ADMIN
        )
        assert bad.status_code == 400 and bad.json()["error"]["details"]["position"] == 11
        assert (
            client.post(rules, json={"name": "x", "kind": "boost"}, headers=ADMIN).status_code
            == 400
        )
        assert {r["name"] for r in client.get(rules, headers=ADMIN).json()} == {
            r["name"] for r in created
        }
        for user in ("user_007", "new_shopper"):
            items = _recs(client, user, limit=10)["items"]
            assert len(items) == 10
            assert sum(i["category"] == absent for i in items) >= 3
            assert items[1]["content_id"] == pinned
            assert items[1]["reason"] == 'Pinned by rule "pin-it"'
            promoted = [i for i in items if i["reason"] == f'Promoted by rule "more-{absent}"']
            assert promoted
            assert any(i["reason"] == 'Boosted by rule "boost-all"' for i in items)
        # A pinned item still obeys the request's filters.
        items = _recs(client, "user_007", limit=10, exclude=pinned)["items"]
        assert pinned not in {i["content_id"] for i in items}
        for rule in created:
            assert client.delete(f"{rules}/{rule['name']}", headers=ADMIN).status_code == 204
        assert client.delete(f"{rules}/pin-it", headers=ADMIN).status_code == 404
        assert not any("rule" in i["reason"] for i in _recs(client, "user_007", limit=10)["items"])
    finally:  # a failure above must not leave its rules to the tests after it
        for rule in created:
            client.delete(f"{rules}/{rule['name']}", headers=ADMIN)


def test_a_rule_with_another_kinds_fields_is_a_400(client: TestClient) -> None:
    """A pin has no filter (it pins in every list), a boost no share: storing them would tell
    the admin reading the rule something it does not do."""
    rules = "/api/v1/rules"
    odd = [
        (
            {
                "kind": "pin",
                "content_id": "content_0001",
                "position": 1,
                "filter": 'category == "a"',
            },
            "a pin rule takes no filter",
        ),
        (
            {"kind": "boost", "filter": 'category == "a"', "factor": 2, "share": 0.5},
            "a boost rule takes no share",
        ),
        (
            {
                "kind": "reserve",
                "filter": 'category == "a"',
                "share": 0.5,
                "factor": 2,
                "position": 3,
            },
            "a reserve rule takes no factor or position",
        ),
    ]
    for body, message in odd:
        response = client.post(rules, json={"name": "odd", **body}, headers=ADMIN)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"] == message
    assert "odd" not in {r["name"] for r in client.get(rules, headers=ADMIN).json()}


def test_what_a_store_cannot_keep_or_serve_is_refused(client: TestClient) -> None:
    """NaN or Infinity in metadata (`1e400` parses as one) and a NUL character in a title,
    metadata or a rule's filter were a 500 on PostgreSQL and stored on SQLite; metadata
    nested 900 deep was stored, and every read of the item was then a 500."""
    nested = '{"a": ' * 900 + "1" + "}" * 900
    odd = ('{"p": NaN}', '{"p": 1e400}', '{"p": [1, -Infinity]}', '{"p": ["a\\u0000"]}')
    for metadata in (*odd, nested):
        body = (
            f'[{{"content_id": "odd_item", "title": "t", "category": "c", "metadata": {metadata}}}]'
        )
        response = client.put(
            "/api/v1/content", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
    item = {"content_id": "odd_item", "title": "a\x00", "category": "c"}
    assert client.put("/api/v1/content", json=[item]).status_code == 422
    assert client.get("/api/v1/content/odd_item").status_code == 404
    rule = {"name": "nul", "kind": "boost", "filter": 'title == "a\x00"', "factor": 2}
    response = client.post("/api/v1/rules", json=rule, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["position"] == 9
    response = client.get(RECS, params={"user_id": "user_001", "filter": 'title == "a\x00"'})
    assert response.status_code == 400


def test_an_item_the_user_interacted_with_is_not_pinned_for_them(client: TestClient) -> None:
    """A pin put back an item the user had already liked (or disliked) at its position."""
    pinned = "content_0160"
    liked = {"user_id": "user_008", "content_id": pinned, "interaction_type": "dislike"}
    assert client.post("/api/v1/interact", json=liked).status_code == 202
    rule = {"name": "pin-160", "kind": "pin", "content_id": pinned, "position": 1}
    assert client.post("/api/v1/rules", json=rule, headers=ADMIN).status_code == 201
    try:
        assert _ids(_recs(client, "new_pin_visitor", limit=10))[0] == pinned
        items = _ids(_recs(client, "user_008", limit=10))
        assert pinned not in items and len(items) == 10
    finally:
        assert client.delete("/api/v1/rules/pin-160", headers=ADMIN).status_code == 204


def test_pins_over_a_category_cap_keep_the_list_full(client: TestClient) -> None:
    """Pins of a category the list had filled up to `max_per_category` pushed out two items
    and nothing took their places: 8 items for a limit of 10 with plenty of categories."""
    params = {"limit": 10, "max_per_category": 2}
    items = _recs(client, "cap_visitor", **params)["items"]
    full = next(c for c, n in Counter(i["category"] for i in items).items() if n == 2)
    listed = {i["content_id"] for i in items}
    catalogue = client.get("/api/v1/content", params={"category": full, "limit": 50}).json()
    extra = [c["content_id"] for c in catalogue["items"] if c["content_id"] not in listed][:2]
    rules = [
        {"name": f"cap-pin-{n}", "kind": "pin", "content_id": item, "position": n + 1}
        for n, item in enumerate(extra)
    ]
    for rule in rules:
        assert client.post("/api/v1/rules", json=rule, headers=ADMIN).status_code == 201
    try:
        items = _recs(client, "cap_visitor", **params)["items"]
        assert [i["content_id"] for i in items[:2]] == extra
        assert len(items) == 10 and len({i["content_id"] for i in items}) == 10
        assert max(Counter(i["category"] for i in items).values()) <= 2
    finally:
        for rule in rules:
            assert client.delete(f"/api/v1/rules/{rule['name']}", headers=ADMIN).status_code == 204


def test_rules_and_hidden_items_reach_every_replica(
    tmp_path: Path,
    redis_url: str,  # noqa: F811
) -> None:
    """Two API processes on one PostgreSQL and one Redis: a change made through one shows in
    the other's next answer, cached lists included."""
    with (
        deployment(tmp_path, "postgresql", cache_url=redis_url) as settings,
        TestClient(create_app(settings)) as one,
        TestClient(create_app(settings)) as other,
    ):
        before = _ids(_recs(other, "user_010", limit=5))
        assert _recs(other, "user_010", limit=5)["cached"] is True
        pin = {"name": "front", "kind": "pin", "content_id": "content_0299", "position": 1}
        assert one.post("/api/v1/rules", json=pin, headers=ADMIN).status_code == 201
        items = _recs(other, "user_010", limit=5)["items"]
        assert items[0]["content_id"] == "content_0299"
        assert items[0]["reason"] == 'Pinned by rule "front"'
        _upsert(one, before[1], hidden=True)
        assert before[1] not in _ids(_recs(other, "user_010", limit=5))
        assert one.delete("/api/v1/rules/front", headers=ADMIN).status_code == 204
        assert _ids(_recs(other, "user_010", limit=5))[0] != "content_0299"
