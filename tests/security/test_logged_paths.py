"""No log line and no metric names a user or a session by id, whatever became of the request."""

import logging
import string
from itertools import pairwise

import pytest
from fastapi.routing import iter_route_contexts

from contextiq.domain import session_subject
from contextiq.observability.path_mask import NAMED_AFTER, masked_path
from contextiq.security.audit import user_pseudonym
from tests.security.conftest import Secured, bearer

USER, SESSION = "named-user-7301", "named-session-7302"
PERSON_PARAMS = {"user_id", "session_id"}


def test_every_route_that_names_a_person_is_masked(secured: Secured) -> None:
    """A new route with a person's id after a segment `NAMED_AFTER` lacks fails here."""
    named = 0
    for route in iter_route_contexts(secured.client.app.routes):  # type: ignore[attr-defined]
        segments = (route.path_format or "").split("/")
        for before, segment in pairwise(segments):
            fields = [f for _, f, _, _ in string.Formatter().parse(segment) if f]
            if PERSON_PARAMS & set(fields):
                named += 1
                assert before in NAMED_AFTER, route.path_format
            elif before in NAMED_AFTER:
                pytest.fail(f"{route.path_format}: {segment!r} would be masked")
    assert named == 6


def test_masked_path_writes_the_audit_logs_pseudonyms() -> None:
    assert masked_path(f"/api/v1/users/{USER}/export") == (
        f"/api/v1/users/{user_pseudonym(USER)}/export"
    )
    assert masked_path(f"/api/v1/sessions/{SESSION}") == (
        f"/api/v1/sessions/{user_pseudonym(session_subject(SESSION))}"
    )
    assert masked_path("/api/v1/users/") == "/api/v1/users/"
    assert masked_path("/api/v1/content/users") == "/api/v1/content/users"


def test_no_log_line_or_metric_names_the_person(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    admin = bearer(secured.admin_key)
    client = secured.client
    too_big = b"x" * (secured.settings.max_body_bytes + 1)
    item = client.get("/api/v1/content", headers=admin).json()["items"][0]["content_id"]
    caplog.set_level(logging.DEBUG)
    for method, path, kwargs, status in [
        ("POST", "/api/v1/interact", {"json": _event(USER, item)}, 202),
        ("POST", "/api/v1/interact", {"json": _event(None, item)}, 202),
        ("GET", f"/api/v1/user-profile/{USER}", {}, 200),
        ("GET", f"/api/v1/recommendations?user_id={USER}", {}, 200),
        ("GET", f"/api/v1/recommendations?session_id={SESSION}", {}, 200),
        ("GET", f"/api/v1/users/{USER}/export", {}, 200),
        ("GET", f"/api/v1/sessions/{SESSION}/export", {}, 200),
        ("POST", f"/api/v1/users/{USER}/merge", {"json": {"session_id": SESSION}}, 200),
        # Refused before routing, matched by no route, or by path and not method.
        ("POST", f"/api/v1/users/{USER}/merge", {"content": too_big}, 413),
        ("GET", f"/api/v1/users/{USER}/nothing-here", {}, 404),
        ("PUT", f"/api/v1/users/{USER}", {}, 405),
        ("GET", f"/api/v1/user-profile/{USER}", {"headers": {}}, 401),
        ("DELETE", f"/api/v1/sessions/{SESSION}", {}, 200),
        ("DELETE", f"/api/v1/users/{USER}", {}, 200),
    ]:
        headers = kwargs.pop("headers", admin)
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.text)
    logged = [
        f"{r.name} {r.getMessage()} {getattr(r, 'fields', '')} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("httpx")  # the test's client, not the server
    ]
    logged.append(client.get("/metrics", headers=admin).text)
    assert [line for line in logged if USER in line or SESSION in line] == []
    access = [line for line in logged if line.startswith("contextiq.access")]
    assert len([line for line in access if user_pseudonym(USER) in line]) == 8


def _event(user: str | None, item: str) -> dict[str, str]:
    subject = {"user_id": user} if user else {"session_id": SESSION}
    return {**subject, "content_id": item, "interaction_type": "like"}
