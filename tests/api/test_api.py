"""The public API on embedded defaults, as a client sees it."""

import asyncio
import gc
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import train
from contextiq.config import Settings
from contextiq.ml.registry import ModelRegistry
from contextiq.store.records import ModelVersion
from contextiq.store.store import Store


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """The in-process worker applies events asynchronously; give it a moment."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _recs(client: TestClient, user_id: str, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/recommendations", params={"user_id": user_id, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_health_reports_every_dependency(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) == {"database", "cache", "events", "model", "llm"}
    assert body["dependencies"]["database"]["backend"] == "sqlite"


@pytest.mark.timeout(60)
def test_health_answers_while_the_database_does_not(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that takes a connection and never answers (a failover, a full pool) is
    reported down: readiness probes give up after 3 s, and one that gets no answer takes the
    replica out as surely as a failed one, which `degraded` exists to avoid."""

    async def no_answer() -> None:
        await asyncio.Event().wait()

    services = client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services.store, "ping", no_answer)
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["database"]["status"] == "down"
    assert body["dependencies"]["database"]["detail"]
    assert body["dependencies"]["cache"]["status"] == "ok"


def test_liveness_answers_at_once_whatever_the_dependencies_do(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A liveness probe restarts what fails it: it must not wait on the database (an outage
    would restart every replica), yet must be answered by the event loop, as a TCP probe (the
    old manifests') was not: the kernel accepts connections while the loop stands still."""

    async def no_answer() -> None:
        await asyncio.Event().wait()

    services = client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services.store, "ping", no_answer)
    monkeypatch.setattr(services.cache, "ping", no_answer)
    response = client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_an_interaction_the_database_cannot_take_now_is_answered_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refused the connection on every retry (down, failing over): a 503 with
    Retry-After, which clients and load balancers retry; old code: 500 internal_error."""

    async def refused(*_: object, **__: object) -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    services = client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services.store, "record_interactions", refused)
    item = _recs(client, "user_005", limit=1)["items"][0]["content_id"]
    response = client.post(
        "/api/v1/interact",
        json={"user_id": "user_005", "content_id": item, "interaction_type": "like"},
    )
    _assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"


def test_interactions_past_what_may_wait_for_the_database_are_answered_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code queued every interaction while the database was slow, without bound."""
    services = client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services.writer, "max_waiting", 0)
    item = _recs(client, "user_006", limit=1)["items"][0]["content_id"]
    event = {"user_id": "user_006", "content_id": item, "interaction_type": "like"}
    for response in (
        client.post("/api/v1/interact", json=event),
        client.post("/api/v1/interactions/batch", json={"interactions": [event]}),
    ):
        _assert_error(response, 503, "unavailable")
        assert response.headers["Retry-After"] == "1"


def test_a_serving_process_warms_up_before_its_first_request(demo_settings: Settings) -> None:
    """Started, it has served lists already (its catalogue cache holds their items) and put
    what it holds out of the garbage collector's reach, but recorded nothing a client would
    see: no impression, no cached answer."""
    with TestClient(create_app(demo_settings)) as fresh:
        services = fresh.app.state.services  # type: ignore[attr-defined]
        assert services.recommendations.catalog._items
        assert gc.get_freeze_count() > 0
        assert services.writer._shown == []
        assert fresh.portal is not None
        assert fresh.portal.call(services.cache.delete_prefix, "recs:") == 0


def test_known_user_gets_personalized_scored_items(client: TestClient) -> None:
    body = _recs(client, "user_001", limit=5)
    assert body["personalized"] is True
    assert body["model_version"]
    assert len(body["items"]) == 5
    for item in body["items"]:
        assert 0.0 <= item["ml_score"] <= 1.0
        assert item["score"] == item["ml_score"]  # no language model configured
        assert item["llm_score"] is None
        assert item["reason"]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_unknown_user_gets_popular_and_fresh_content(client: TestClient) -> None:
    body = _recs(client, "someone_new", limit=10)
    assert body["personalized"] is False
    assert len(body["items"]) == 10
    assert {i["source"] for i in body["items"]} == {"popular", "fresh"}


def test_category_filter(client: TestClient) -> None:
    for user in ("user_002", "brand_new_user"):
        body = _recs(client, user, category="music", limit=5)
        assert body["items"]
        assert {i["category"] for i in body["items"]} == {"music"}


def test_second_call_is_cached_until_the_user_interacts(client: TestClient) -> None:
    first = _recs(client, "user_003", limit=5)
    second = _recs(client, "user_003", limit=5)
    assert second["cached"] is True
    assert second["items"] == first["items"]
    liked = first["items"][0]["content_id"]
    response = client.post(
        "/api/v1/interact",
        json={"user_id": "user_003", "content_id": liked, "interaction_type": "like"},
    )
    assert response.status_code == 202
    after = _recs(client, "user_003", limit=5)
    assert after["cached"] is False
    assert liked not in {i["content_id"] for i in after["items"]}


def test_requests_whose_filters_differ_never_share_a_cached_list(client: TestClient) -> None:
    music = _recs(client, "user_005", exclude="gone|sports", categories="music")
    assert music["items"] and {i["category"] for i in music["items"]} == {"music"}
    # No category is named "sports|music": nothing passes, from the cache or not.
    other = _recs(client, "user_005", exclude="gone", categories="sports|music")
    assert other["items"] == []


def test_interacted_items_never_come_back(client: TestClient) -> None:
    for kind in ("like", "save", "dislike"):
        top = _recs(client, "user_004", limit=3)["items"][0]["content_id"]
        client.post(
            "/api/v1/interact",
            json={"user_id": "user_004", "content_id": top, "interaction_type": kind},
        )
        assert top not in {i["content_id"] for i in _recs(client, "user_004", limit=50)["items"]}


def test_new_user_is_personalized_after_one_like(client: TestClient) -> None:
    music = client.get("/api/v1/content", params={"category": "music", "limit": 3}).json()["items"]
    for item in music:
        client.post(
            "/api/v1/interact",
            json={
                "user_id": "fresh_fan",
                "content_id": item["content_id"],
                "interaction_type": "like",
            },
        )
    body = _recs(client, "fresh_fan", limit=10)
    assert body["personalized"] is True
    categories = [i["category"] for i in body["items"]]
    assert categories.count("music") >= 5


def test_repeated_event_id_counts_once(client: TestClient) -> None:
    event = {
        "user_id": "dup_user",
        "content_id": "content_0010",
        "interaction_type": "save",
        "event_id": "evt-dup-1",
    }
    first = client.post("/api/v1/interact", json=event)
    second = client.post("/api/v1/interact", json=event)
    assert first.json() == {"event_id": "evt-dup-1", "status": "accepted"}
    assert second.status_code == 202
    assert second.json()["status"] == "duplicate"
    _wait_for(lambda: client.get("/api/v1/user-profile/dup_user").json()["total"] == 1)
    profile = client.get("/api/v1/user-profile/dup_user").json()
    assert profile["counts"]["save"] == 1
    assert profile["recent"][0]["content_id"] == "content_0010"


def test_profile_summarizes_activity(client: TestClient) -> None:
    profile = client.get("/api/v1/user-profile/user_005").json()
    assert profile["total"] == sum(profile["counts"].values()) > 0
    assert set(profile["counts"]) == {"view", "like", "save", "share", "dislike", "skip"}
    assert profile["top_categories"]
    assert profile["first_seen"] <= profile["last_seen"]
    assert profile["recent"]


def test_profile_of_unknown_user_is_empty(client: TestClient) -> None:
    profile = client.get("/api/v1/user-profile/nobody_yet").json()
    assert profile["total"] == 0
    assert profile["recent"] == []


def test_content_listing_walks_by_cursor(client: TestClient) -> None:
    """An offset page costs more the deeper it is (every row before it is read); a cursor
    starts where the last page ended. Each page names the next one until the last."""
    offset_page = client.get("/api/v1/content", params={"category": "art", "limit": 30}).json()
    walked: list[str] = []
    params: dict[str, str | int] = {"category": "art", "limit": 7}
    while True:
        page = client.get("/api/v1/content", params=params).json()
        assert page["total"] == 30
        walked += [i["content_id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert walked == [i["content_id"] for i in offset_page["items"]]
    assert offset_page["next_cursor"] is None  # nothing after the 30th
    # Not base64 JSON; a list of one; a time before year 1 in UTC.
    for bad in ("nonsense", "WyIyMDI2Il0", "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwgIngiXQ"):
        _assert_error(client.get("/api/v1/content", params={"cursor": bad}), 400, "invalid_cursor")
    first = client.get("/api/v1/content", params={"limit": 1}).json()
    both = {"cursor": first["next_cursor"], "offset": 5}
    _assert_error(client.get("/api/v1/content", params=both), 400, "invalid_cursor")


def test_content_listing_paginates_with_total(client: TestClient) -> None:
    page1 = client.get("/api/v1/content", params={"category": "art", "limit": 7}).json()
    page2 = client.get(
        "/api/v1/content", params={"category": "art", "limit": 7, "offset": 7}
    ).json()
    assert page1["total"] == 30
    assert len(page1["items"]) == 7
    ids1 = {i["content_id"] for i in page1["items"]}
    assert ids1.isdisjoint(i["content_id"] for i in page2["items"])
    categories = client.get("/api/v1/categories").json()["categories"]
    assert {c["category"] for c in categories} >= {"art", "music"}


def test_content_upsert_read_similar_delete(client: TestClient) -> None:
    item = {
        "content_id": "new_synth_article",
        "title": "Synthesizers for Jazz Players",
        "category": "music",
        "description": "Modular synths meet jazz standards.",
        "tags": ["jazz", "electronic"],
    }
    assert client.put("/api/v1/content", json=[item]).json() == {"upserted": 1}
    read = client.get("/api/v1/content/new_synth_article").json()
    assert read["title"] == item["title"]
    assert read["tags"] == item["tags"]
    similar = client.get("/api/v1/content/new_synth_article/similar", params={"limit": 5}).json()
    assert len(similar["items"]) == 5
    assert "new_synth_article" not in {i["content_id"] for i in similar["items"]}
    assert client.delete("/api/v1/content/new_synth_article").status_code == 204
    _assert_error(client.get("/api/v1/content/new_synth_article"), 404, "content_not_found")
    _assert_error(client.delete("/api/v1/content/new_synth_article"), 404, "content_not_found")


def test_new_content_can_be_recommended_before_anyone_touches_it(client: TestClient) -> None:
    items = [
        {
            "content_id": f"cold_{n}",
            "title": f"Jazz Standards Deep Dive {n}",
            "category": "music",
            "tags": ["jazz", "theory"],
        }
        for n in range(30)
    ]
    client.put("/api/v1/content", json=items)
    jazz = [
        c["content_id"]
        for c in client.get("/api/v1/content", params={"category": "music", "limit": 100}).json()[
            "items"
        ]
        if "jazz" in c["tags"] and not c["content_id"].startswith("cold_")
    ][:5]
    for content_id in jazz:
        client.post(
            "/api/v1/interact",
            json={"user_id": "jazz_cat", "content_id": content_id, "interaction_type": "like"},
        )
    ids = [i["content_id"] for i in _recs(client, "jazz_cat", limit=100, category="music")["items"]]
    assert any(i.startswith("cold_") for i in ids)


def test_batch_ingest_reports_rejections(client: TestClient) -> None:
    events = [
        {
            "user_id": "batch_user",
            "content_id": "content_0020",
            "interaction_type": "view",
            "duration_seconds": 30,
            "event_id": "b-1",
        },
        {"user_id": "batch_user", "content_id": "content_0021", "interaction_type": "poke"},
        {"user_id": "batch_user", "content_id": "missing_item", "interaction_type": "like"},
        {
            "user_id": "batch_user",
            "content_id": "content_0022",
            "interaction_type": "share",
            "event_id": "b-1",
        },
        "not an object",
    ]
    body = client.post("/api/v1/interactions/batch", json={"interactions": events}).json()
    assert body["accepted"] == 1
    assert body["duplicates"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "validation_error"),
        (2, "content_not_found"),
        (4, "validation_error"),
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"content_id": "content_0001", "interaction_type": "like"}, "user_id"),
        ({"user_id": 5, "content_id": "content_0001", "interaction_type": "like"}, "user_id"),
        (
            {"user_id": "u", "content_id": "content_0001", "interaction_type": "poke"},
            "interaction_type",
        ),
        (
            {"user_id": "u" * 129, "content_id": "content_0001", "interaction_type": "like"},
            "user_id",
        ),
        (
            {
                "user_id": "u",
                "content_id": "content_0001",
                "interaction_type": "view",
                "duration_seconds": -3,
            },
            "duration_seconds",
        ),
        ({"user_id": "u", "content_id": "content_0001", "interaction_type": "like", "x": 1}, "x"),
    ],
)
def test_bad_interactions_get_a_clear_422(
    client: TestClient, payload: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/interact", json=payload)
    _assert_error(response, 422, "validation_error")
    assert field in response.json()["error"]["message"]


def test_an_event_from_the_future_is_refused_beyond_clock_skew(client: TestClient) -> None:
    """An hour ahead would sort after every later event and stall retraining comparisons."""
    now = datetime.now(UTC)
    event = {"user_id": "clocks", "content_id": "content_0001", "interaction_type": "like"}
    ahead = client.post(
        "/api/v1/interact", json={**event, "timestamp": str(now + timedelta(hours=1))}
    )
    _assert_error(ahead, 422, "validation_error")
    assert "ahead of this server's clock" in ahead.json()["error"]["message"]
    skewed = {**event, "timestamp": str(now + timedelta(minutes=1))}
    assert client.post("/api/v1/interact", json=skewed).status_code == 202


def test_an_event_from_before_1970_is_refused(client: TestClient) -> None:
    """Event times count from the Unix epoch on the bus and in popularity."""
    event = {"user_id": "clocks", "content_id": "content_0001", "interaction_type": "like"}
    early = client.post("/api/v1/interact", json={**event, "timestamp": "1969-12-31T23:59:59Z"})
    _assert_error(early, 422, "validation_error")
    assert "before 1970-01-01" in early.json()["error"]["message"]
    # 1970-01-01T00:30+01:00 is 1969-12-31T23:30 in UTC.
    shifted = client.post("/api/v1/interact", json={**event, "timestamp": "1970-01-01T00:30+01:00"})
    _assert_error(shifted, 422, "validation_error")
    epoch = client.post("/api/v1/interact", json={**event, "timestamp": "1970-01-01T00:00:00Z"})
    assert epoch.status_code == 202


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_that_leaves_the_calendar_in_utc_is_422(client: TestClient, moment: str) -> None:
    """Converting it to UTC overflows: refused in validation, never a 500."""
    event = {"user_id": "calendar", "content_id": "content_0001", "interaction_type": "like"}
    _assert_error(
        client.post("/api/v1/interact", json={**event, "timestamp": moment}),
        422,
        "validation_error",
    )
    item = client.get("/api/v1/content/content_0001").json()
    item = {k: v for k, v in item.items() if v is not None} | {"available_until": moment}
    _assert_error(client.put("/api/v1/content", json=[item]), 422, "validation_error")
    batch = {"interactions": [event, {**event, "timestamp": moment}]}
    body = client.post("/api/v1/interactions/batch", json=batch).json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "validation_error")]


def test_content_times_are_stored_in_utc(client: TestClient) -> None:
    item = client.get("/api/v1/content/content_0002").json()
    item = {k: v for k, v in item.items() if v is not None}
    item["created_at"] = "2026-01-01T00:00:00+05:00"
    assert client.put("/api/v1/content", json=[item]).status_code == 200
    stored = client.get("/api/v1/content/content_0002").json()["created_at"]
    assert datetime.fromisoformat(stored) == datetime(2025, 12, 31, 19, tzinfo=UTC)


def test_unknown_content_is_404_and_writes_nothing(client: TestClient) -> None:
    response = client.post(
        "/api/v1/interact",
        json={"user_id": "ghost", "content_id": "no_such_item", "interaction_type": "like"},
    )
    _assert_error(response, 404, "content_not_found")
    assert client.get("/api/v1/user-profile/ghost").json()["total"] == 0


def test_invalid_utf8_and_malformed_json_are_client_errors(client: TestClient) -> None:
    for body in (b'{"user_id": "\xff\xfe"}', b"{not json"):
        response = client.post(
            "/api/v1/interact", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500
        assert response.json()["error"]["code"] in {"validation_error", "bad_request"}


def test_oversized_batches_are_rejected_whole(client: TestClient) -> None:
    events = [{"user_id": "u", "content_id": "content_0001", "interaction_type": "view"}] * 10_001
    response = client.post("/api/v1/interactions/batch", json={"interactions": events})
    _assert_error(response, 422, "validation_error")
    items = [{"content_id": f"x{i}", "title": "t", "category": "c"} for i in range(1_001)]
    _assert_error(client.put("/api/v1/content", json=items), 422, "validation_error")


def test_an_availability_window_that_ends_before_it_starts_is_422(client: TestClient) -> None:
    item = {"content_id": "window", "title": "t", "category": "c"}
    window = {"available_from": "2026-02-01T00:00:00Z", "available_until": "2026-01-01T00:00:00Z"}
    response = client.put("/api/v1/content", json=[item | window])
    _assert_error(response, 422, "validation_error")
    assert "available_until must come after available_from" in response.json()["error"]["message"]


def test_a_request_can_name_a_model_family_once_one_is_trained(
    client: TestClient, demo_settings: Settings
) -> None:
    def recs(**params: str) -> Any:
        return client.get("/api/v1/recommendations", params={"user_id": "user_002", **params})

    _assert_error(recs(model_family="mystery"), 422, "validation_error")
    untrained = recs(model_family="ease")
    _assert_error(untrained, 400, "model_family_not_trained")
    assert "CONTEXTIQ_MODEL_FAMILIES" in untrained.json()["error"]["message"]

    trained = asyncio.run(train(demo_settings, "ease"))  # as the CLI: a process of its own
    assert trained is not None and trained.status == "candidate"
    deadline = time.monotonic() + 30
    while recs(model_family="ease").status_code == 400 and time.monotonic() < deadline:
        time.sleep(0.2)  # every process reads the families' versions every 2 s
    named = recs(model_family="ease").json()
    assert named["model_version"] == trained.version and named["experiment"] is None
    assert recs().json()["model_version"] != trained.version  # the default is unchanged
    families = client.get("/api/v1/models").json()["families"]
    assert families["ease"] == trained.version and "blend" in families


def test_a_model_family_serves_content_written_after_it_was_trained(
    client: TestClient, demo_settings: Settings
) -> None:
    def shelf(category: str) -> list[str]:
        params = {"user_id": "user_002", "model_family": "ease", "categories": category}
        response = client.get("/api/v1/recommendations", params=params)
        assert response.status_code == 200, response.text
        return [i["content_id"] for i in response.json()["items"]]

    if "ease" not in client.get("/api/v1/models").json()["families"]:
        asyncio.run(train(demo_settings, "ease"))
        _wait_for(lambda: "ease" in client.get("/api/v1/models").json()["families"], 30)
    assert shelf("music")  # the family's version is loaded and serving
    item = {"content_id": "family_new", "title": "Jazz nights", "category": "late-added"}
    assert client.put("/api/v1/content", json=[item]).status_code == 200
    assert shelf("late-added") == ["family_new"]


def test_model_status_lists_the_active_version(client: TestClient) -> None:
    body = client.get("/api/v1/models").json()
    assert body["active"]["status"] == "active" and body["active"]["family"] == "blend"
    assert body["active"]["metrics"]["ndcg@10"] > 0
    assert body["retrain_enabled"] is False
    _assert_error(client.post("/api/v1/models/retrain"), 401, "unauthorized")


def test_model_status_follows_the_registry_not_a_stale_row(
    client: TestClient, demo_settings: Settings
) -> None:
    serving = client.get("/api/v1/models").json()["active"]["version"]

    async def record_a_stale_active_row() -> None:
        store = Store(demo_settings.database_url)
        try:
            # As if a promotion were recorded without reaching the registry's ACTIVE file.
            await store.save_model_version(
                ModelVersion(
                    "00000000T000000Z-stale",
                    datetime(2020, 1, 1, tzinfo=UTC),
                    "active",
                    {},
                    1,
                    1,
                    1,
                    0.1,
                )
            )
        finally:
            await store.close()

    asyncio.run(record_a_stale_active_row())
    body = client.get("/api/v1/models").json()
    assert body["active"]["version"] == serving
    statuses = {v["version"]: v["status"] for v in body["history"]}
    assert statuses[serving] == "active"
    assert statuses["00000000T000000Z-stale"] == "retired"


def test_model_status_shows_a_served_version_whose_row_a_crash_left_unrecorded(
    client: TestClient, demo_settings: Settings
) -> None:
    """A training promotes (the ACTIVE file), then records the row: a process that died in
    between left `active: null` on old code until the next training."""
    registry = ModelRegistry(demo_settings.model_dir)
    before = registry.active_version()
    assert before is not None
    unrecorded = "20991231T000000Z-norow000"
    versions = demo_settings.model_dir / "versions"
    shutil.copytree(versions / before, versions / unrecorded)
    meta = json.loads((versions / unrecorded / "meta.json").read_text())
    meta |= {"version": unrecorded, "created_at": "2099-12-31T00:00:00+00:00"}
    (versions / unrecorded / "meta.json").write_text(json.dumps(meta))
    registry.promote(unrecorded)  # and the process is killed before save_model_version

    def served(version: str) -> bool:
        user = f"crash-{time.monotonic_ns()}"  # a fresh user: nothing cached
        return bool(_recs(client, user)["model_version"] == version)

    try:
        _wait_for(lambda: served(unrecorded), timeout=30)
        body = client.get("/api/v1/models").json()
        assert body["active"] is not None, "active: null for a served version without a row"
        assert body["active"]["version"] == unrecorded
        assert body["active"]["status"] == "active" and body["active"]["family"] == meta["family"]
        assert body["active"]["metrics"] == meta["metrics"]
        assert body["history"][0]["version"] == unrecorded  # the newest, as it was trained
        assert [v["version"] for v in body["history"]].count(before) == 1
    finally:
        registry.promote(before)
        _wait_for(lambda: served(before), timeout=30)
        shutil.rmtree(versions / unrecorded)


def test_model_status_survives_a_version_whose_record_is_damaged(
    client: TestClient, demo_settings: Settings
) -> None:
    """Old code: a 500 for the whole status while one version's meta.json was unreadable."""
    damaged = "00000000T000000Z-damaged"
    folder = demo_settings.model_dir / "versions" / damaged
    folder.mkdir()
    (folder / "meta.json").write_text("{")

    async def record_it() -> None:
        store = Store(demo_settings.database_url)
        try:
            row = ModelVersion(
                damaged, datetime(2020, 1, 1, tzinfo=UTC), "rejected", {}, 1, 1, 1, 0.1
            )
            await store.save_model_version(row)
        finally:
            await store.close()

    asyncio.run(record_it())
    response = client.get("/api/v1/models")
    assert response.status_code == 200, response.text
    listed = {v["version"]: v for v in response.json()["history"]}
    assert listed[damaged]["family"] is None and listed[damaged]["status"] == "rejected"


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/interact",
        "/api/v1/recommendations",
        "/api/v1/user-profile/{user_id}",
        "/api/v1/content",
    ):
        assert path in paths
