"""Request hygiene: body limits, headers, CORS, secrets kept in, hostile strings kept as text."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from contextiq.domain import session_subject
from contextiq.security.audit import user_pseudonym
from contextiq.security.redact import redact
from tests.conftest import embedded_settings
from tests.integration.conftest import pg_url  # noqa: F401 (fixture)
from tests.security.conftest import JWT_SECRET, Secured, bearer

SECRETS = {
    "api_key": "client-key-that-must-not-leak",
    "admin_key": "admin-key-that-must-not-leak",
    "llm_api_key": "sk-llm-key-that-must-not-leak",
    "jwt_secret": JWT_SECRET,
}
DB_PASSWORD = "db-password-must-not-leak"
AWS_SECRET = "aws-secret-that-must-not-leak"
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE content;--",
    '" OR ""="',
    "%",
    "__",
    "\\",
    "x' UNION SELECT user_id FROM users--",
]


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    root = tmp_path_factory.mktemp("hygiene")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        settings = embedded_settings(
            root,
            max_body_bytes=4096,
            cors_origins=["https://app.example"],
            # A Redis that is not there, with a password: /health must report it down, quietly.
            cache_url=f"redis://:{DB_PASSWORD}@127.0.0.1:9/0",
            **SECRETS,
        )
        bootstrap(embedded_settings(root), lambda _: None, demo_items=30, demo_users=5)
        with TestClient(create_app(settings)) as client:
            yield client, settings


def test_oversized_bodies_are_refused(hardened: tuple[TestClient, Settings]) -> None:
    client = hardened[0]
    headers = {"X-API-Key": SECRETS["api_key"]}
    big = {"interactions": [{"user_id": "u" * 100}] * 100}
    response = client.post("/api/v1/interactions/batch", json=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted instead
        yield b'{"interactions": ['
        for _ in range(200):
            yield b'{"user_id": "u1", "content_id": "c1", "interaction_type": "view"},'
        yield b"{}]}"

    response = client.post(
        "/api/v1/interactions/batch",
        content=chunks(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_security_headers(hardened: tuple[TestClient, Settings]) -> None:
    client = hardened[0]
    ui = client.get("/")
    assert "frame-ancestors 'none'" in ui.headers["Content-Security-Policy"]
    assert ui.headers["X-Content-Type-Options"] == "nosniff"
    api = client.get("/api/v1/content")
    assert api.headers["Cache-Control"] == "no-store"
    assert api.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in client.get("/docs").headers


def test_cors_answers_only_listed_origins(hardened: tuple[TestClient, Settings]) -> None:
    client = hardened[0]
    preflight = {"Access-Control-Request-Method": "POST"}
    good = client.options(
        "/api/v1/interact", headers={**preflight, "Origin": "https://app.example"}
    )
    assert good.headers["access-control-allow-origin"] == "https://app.example"
    evil = client.options("/api/v1/interact", headers={**preflight, "Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in evil.headers
    with pytest.raises(ValueError, match="not accepted"):
        embedded_settings(Path("/tmp"), cors_origins=["*"])


def test_secrets_stay_out_of_health_errors_and_logs(
    hardened: tuple[TestClient, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    client, settings = hardened
    leaks = [*SECRETS.values(), DB_PASSWORD, AWS_SECRET]
    caplog.set_level(logging.DEBUG)
    health = client.get("/api/v1/health")
    assert health.json()["dependencies"]["cache"]["status"] == "down"
    bodies = [
        health.text,
        client.get("/api/v1/content", headers=bearer(SECRETS["api_key"] + "x")).text,
        client.get("/api/v1/content", headers=bearer("a.b.c")).text,
        client.post("/api/v1/models/retrain", headers={"X-API-Key": SECRETS["api_key"]}).text,
    ]
    # Whatever the code logs, even a careless line, comes out scrubbed.
    logging.getLogger("contextiq.test").warning(
        "connecting with %s and %s", settings.cache_url, SECRETS["admin_key"]
    )
    try:
        raise RuntimeError(f"failed with key {SECRETS['llm_api_key']}")
    except RuntimeError:
        logging.getLogger("contextiq.test").exception("boom")
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "connecting with redis://:***@127.0.0.1:9/0 and ***" in logged
    for text in [*bodies, logged]:
        for secret in leaks:
            assert secret not in text


def test_redact_masks_urls_and_stored_keys() -> None:
    assert redact("postgresql://app:pa%40ss@db/x") == "postgresql://app:***@db/x"
    assert redact(f"key ciq_0123456789ab_{'A' * 43} used") == "key *** used"


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_injection_strings_are_plain_text(
    hardened: tuple[TestClient, Settings], hostile: str
) -> None:
    client = hardened[0]
    before = client.get("/api/v1/content").json()["total"]
    for params in ({"q": hostile}, {"category": hostile}):
        response = client.get("/api/v1/content", params=params)
        assert response.status_code == 200 and response.json()["total"] == 0, params
    for url in (
        f"/api/v1/content/{hostile}",
        f"/api/v1/content/{hostile}/similar",
        f"/api/v1/user-profile/{hostile}",
    ):
        response = client.get(url)
        assert response.status_code in (404, 422) or response.json().get("total") == 0, url
    response = client.get("/api/v1/recommendations", params={"user_id": hostile})
    assert response.status_code in (200, 422)
    event = {"user_id": hostile, "content_id": hostile, "interaction_type": "view"}
    headers = {"X-API-Key": SECRETS["api_key"]}
    # Refused as invalid ids, or looked up as text and not found: never run, never stored.
    assert client.post("/api/v1/interact", json=event, headers=headers).status_code in (404, 422)
    batch = client.post(
        "/api/v1/interactions/batch", json={"interactions": [event]}, headers=headers
    )
    assert batch.json()["rejected"][0]["code"] in ("validation_error", "content_not_found")
    assert client.get("/api/v1/content").json()["total"] == before


def test_request_logs_name_users_and_sessions_only_by_pseudonym(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    """The request log outlives an erasure, like the audit log: it writes the same digest."""
    user, session = "logged-user-31", "logged-session-32"
    admin = bearer(secured.admin_key)
    caplog.set_level(logging.INFO, logger="contextiq.access")
    for method, path in [
        ("GET", f"/api/v1/user-profile/{user}"),
        ("GET", f"/api/v1/users/{user}/export"),
        ("DELETE", f"/api/v1/users/{user}"),
        ("DELETE", f"/api/v1/sessions/{session}"),
        ("POST", f"/api/v1/users/{user}/merge"),  # refused (no body) after the route matched
    ]:
        assert secured.client.request(method, path, headers=admin).status_code in (200, 422)
    lines = [
        f"{r.getMessage()} {getattr(r, 'fields', None)}"
        for r in caplog.records
        if r.name == "contextiq.access"
    ]
    assert len(lines) == 5
    assert not [line for line in lines if user in line or session in line]
    assert f"/api/v1/users/{user_pseudonym(user)}/export" in lines[1]
    assert f"/api/v1/sessions/{user_pseudonym(session_subject(session))}" in lines[3]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/content?q=a%00b",
        "/api/v1/content?category=a%00b",
        "/api/v1/recommendations?user_id=u1&category=a%00b",
    ],
)
def test_a_nul_character_is_a_client_error_on_postgresql(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    path: str,
) -> None:
    """PostgreSQL's text cannot hold NUL: a query that reaches it with one is refused as the
    request's fault, never a 500 (content bodies are refused before, by `ContentIn`)."""
    with TestClient(create_app(embedded_settings(tmp_path, database_url=pg_url))) as client:
        response = client.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("value", ['"\\ud800"', "NaN", "1e400"])
def test_metadata_that_is_not_strict_json_is_refused(secured: Secured, value: str) -> None:
    """Stored, a lone surrogate made every later read of the item a 500 (and NaN or Infinity
    its write on PostgreSQL)."""
    item = f'[{{"content_id": "s1", "title": "t", "category": "c", "metadata": {{"k": {value}}}}}]'
    headers = {**bearer(secured.admin_key), "Content-Type": "application/json"}
    response = secured.client.put("/api/v1/content", content=item, headers=headers)
    assert response.status_code == 422, response.text
    assert secured.client.get("/api/v1/content/s1", headers=headers).status_code == 404
