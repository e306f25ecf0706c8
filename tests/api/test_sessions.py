"""Anonymous sessions and merging them into users, through the API on SQLite and PostgreSQL."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.domain import session_subject
from contextiq.services import Services
from contextiq.store.tables import ImpressionRow
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_pg_database

ADMIN = {"X-API-Key": "admin-key-for-session-tests"}


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    """A migrated PostgreSQL database of its own, for a synchronous (TestClient) fixture."""
    loop = asyncio.new_event_loop()
    database = fresh_pg_database()
    try:
        yield loop.run_until_complete(database.__aenter__())
    finally:
        loop.run_until_complete(database.__aexit__(None, None, None))
        loop.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp(f"sessions-{request.param}")
    with contextlib.ExitStack() as stack:
        database: dict[str, Any] = {}
        if request.param == "postgresql":
            database["database_url"] = stack.enter_context(_postgres_database())
        settings = embedded_settings(root, admin_key=ADMIN["X-API-Key"], **database)
        bootstrap(settings, lambda _: None, demo_items=120, demo_users=20)
        yield stack.enter_context(TestClient(create_app(settings)))


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def _wait(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _settled(client: TestClient) -> None:
    """The worker applied every event (its invalidations would race a cache check)."""
    store = _services(client).store
    assert client.portal is not None
    portal = client.portal
    _wait(lambda: portal.call(store.pending_outbox) == 0, "the worker to apply the events")


def _recs(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/recommendations", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [i["content_id"] for i in body["items"]]


def _interact(client: TestClient, kind: str = "like", **subject: str) -> None:
    response = client.post("/api/v1/interact", json={**subject, "interaction_type": kind})
    assert response.status_code == 202, response.text


def _merge(client: TestClient, user_id: str, session_id: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/users/{user_id}/merge", json={"session_id": session_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    message: str = error["message"]
    return message


def test_a_session_is_personalized_from_its_first_event(client: TestClient) -> None:
    before = _recs(client, session_id="visitor-first", limit=5)
    assert before["personalized"] is False
    assert (before["session_id"], before["user_id"]) == ("visitor-first", None)
    liked = before["items"][0]["content_id"]
    _interact(client, session_id="visitor-first", content_id=liked)
    after = _recs(client, session_id="visitor-first", limit=5)
    assert after["personalized"] is True
    assert after["cached"] is False  # the event invalidated the session's cached list
    assert liked not in _ids(after)
    assert any(i["reason"].startswith("Because you liked") for i in after["items"])


def test_a_session_and_a_user_of_the_same_name_are_apart(client: TestClient) -> None:
    item = _recs(client, user_id="twin", limit=1)["items"][0]["content_id"]
    _interact(client, session_id="twin", content_id=item)
    assert _recs(client, session_id="twin")["personalized"] is True
    assert _recs(client, user_id="twin")["personalized"] is False
    assert client.get("/api/v1/user-profile/twin").json()["total"] == 0


def test_the_batch_endpoint_takes_sessions(client: TestClient) -> None:
    item = _recs(client, session_id="visitor-batch", limit=1)["items"][0]["content_id"]
    events = [
        {"session_id": "visitor-batch", "content_id": item, "interaction_type": "view"},
        {"user_id": "u", "session_id": "s", "content_id": item, "interaction_type": "view"},
        {"content_id": item, "interaction_type": "view"},
    ]
    response = client.post("/api/v1/interactions/batch", json={"interactions": events})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert all("exactly one of user_id and session_id" in r["message"] for r in body["rejected"])
    assert _recs(client, session_id="visitor-batch")["personalized"] is True


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "bad_request"),
        ({"user_id": "u", "session_id": "s"}, 400, "bad_request"),
        ({"session_id": "no spaces"}, 422, "validation_error"),
        ({"session_id": "x" * 101}, 422, "validation_error"),
        ({"session_id": "~session:x"}, 422, "validation_error"),
    ],
)
def test_recommendations_need_exactly_one_subject(
    client: TestClient, params: dict[str, str], status: int, code: str
) -> None:
    _error(client.get("/api/v1/recommendations", params=params), status, code)


@pytest.mark.parametrize(
    "subject",
    [{}, {"user_id": "u", "session_id": "s"}, {"session_id": ""}, {"session_id": "a/b"}],
)
def test_an_interaction_needs_exactly_one_valid_subject(
    client: TestClient, subject: dict[str, str]
) -> None:
    body = {**subject, "content_id": "content_0001", "interaction_type": "view"}
    _error(client.post("/api/v1/interact", json=body), 422, "validation_error")


def test_a_merged_session_becomes_the_users_history(client: TestClient) -> None:
    user, visitor = "merge-user", "visitor-merge"
    start = _recs(client, user_id=user, limit=10)
    own, first, second = _ids(start)[:3]
    _interact(client, user_id=user, content_id=own, kind="save")
    _interact(client, session_id=visitor, content_id=first)
    _interact(client, session_id=visitor, content_id=second, kind="view")
    _settled(client)
    _recs(client, user_id=user, limit=10)
    assert _recs(client, user_id=user, limit=10)["cached"] is True
    assert _recs(client, session_id=visitor, limit=10)["personalized"] is True

    assert _merge(client, user, visitor) == {"user_id": user, "session_id": visitor, "moved": 2}

    profile = client.get(f"/api/v1/user-profile/{user}").json()
    assert profile["total"] == 3
    assert (profile["counts"]["like"], profile["counts"]["view"]) == (1, 1)
    assert {r["content_id"] for r in profile["recent"]} == {own, first, second}
    after = _recs(client, user_id=user, limit=10)
    assert after["cached"] is False  # the user's cached list was invalidated
    assert after["personalized"] is True
    assert not {own, first, second} & set(_ids(after))
    session = _recs(client, session_id=visitor, limit=10)
    assert session["personalized"] is False  # its history moved away


def test_merge_is_idempotent_and_counters_follow(client: TestClient) -> None:
    user, visitor = "merge-twice", "visitor-twice"
    services = _services(client)
    assert client.portal is not None
    items = _ids(_recs(client, user_id=user, limit=3))
    for item in items:
        _interact(client, session_id=visitor, content_id=item)
    assert _merge(client, user, visitor)["moved"] == 3

    def stats() -> dict[str, int]:
        export = client.get(f"/api/v1/users/{user}/export", headers=ADMIN).json()
        return {s["interaction_type"]: s["count"] for s in export["stats"]}

    # The worker moves the session's counters to the user, after the session's own events.
    _wait(lambda: stats() == {"like": 3}, "the user's counters")
    _settled(client)
    left = client.portal.call(services.store.user_export, session_subject(visitor))
    assert (left["stats"], left["interactions"]) == ([], [])
    profile = client.get(f"/api/v1/user-profile/{user}").json()
    recs = _recs(client, user_id=user)
    assert recs["cached"] is False

    assert _merge(client, user, visitor)["moved"] == 0
    assert client.get(f"/api/v1/user-profile/{user}").json() == profile
    again = _recs(client, user_id=user)
    assert again["cached"] is True  # nothing moved, nothing invalidated
    assert again["items"] == recs["items"]
    assert stats() == {"like": 3}

    # Events the session records after a merge move with the next one.
    _interact(client, session_id=visitor, content_id=_ids(recs)[0], kind="view")
    assert _merge(client, user, visitor)["moved"] == 1
    _wait(lambda: stats() == {"like": 3, "view": 1}, "the second merge's counters")


def test_merging_an_unknown_session_moves_nothing(client: TestClient) -> None:
    assert _merge(client, "merge-nobody", "never-seen")["moved"] == 0
    assert client.get("/api/v1/user-profile/merge-nobody").json()["total"] == 0


@pytest.mark.parametrize(
    "body", [{}, {"session_id": ""}, {"session_id": "a b"}, {"session_id": "s", "extra": 1}]
)
def test_merge_rejects_a_bad_body(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/api/v1/users/merge-bad/merge", json=body)
    _error(response, 422, "validation_error")


def test_training_reads_users_not_sessions(client: TestClient) -> None:
    services = _services(client)
    assert client.portal is not None
    item = _recs(client, session_id="visitor-train", limit=1)["items"][0]["content_id"]
    before = client.portal.call(services.store.interaction_counts)
    _interact(client, session_id="visitor-train", content_id=item)
    assert client.portal.call(services.store.interaction_counts) == before
    _merge(client, "train-user", "visitor-train")
    users, _, interactions = client.portal.call(services.store.interaction_counts)
    assert (users, interactions) == (before[0] + 1, before[2] + 1)


async def _seen(services: Services, recommendation_id: str) -> list[int] | None:
    async with services.store.sessions() as session:
        seen: list[int] | None = await session.scalar(
            select(ImpressionRow.seen).where(ImpressionRow.recommendation_id == recommendation_id)
        )
        return seen


def test_a_session_reports_what_it_rendered(client: TestClient) -> None:
    services = _services(client)
    assert client.portal is not None
    portal = client.portal
    answer = _recs(client, session_id="visitor-seen", limit=3)
    seen = {"recommendation_id": answer["recommendation_id"], "positions": [1, 2]}
    both = client.post("/api/v1/impressions", json={**seen, "user_id": "u", "session_id": "s"})
    _error(both, 422, "validation_error")
    response = client.post("/api/v1/impressions", json={**seen, "session_id": "visitor-seen"})
    assert response.status_code == 202, response.text
    _wait(lambda: portal.call(_seen, services, answer["recommendation_id"]) == [1, 2], "seen")
