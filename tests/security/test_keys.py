"""`contextiq keys`: created once, stored hashed, accepted three ways, revoked without a restart."""

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from contextiq.api.app import create_app
from contextiq.cli import app, is_loopback
from contextiq.config import get_settings
from contextiq.security import AuditLog, KeyRing, Role
from contextiq.store.store import Store
from tests.security.conftest import Secured, bearer, secured_settings

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "keys.db"
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("CONTEXTIQ_MODEL_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_create_list_revoke(database: Path) -> None:
    output = _cli("keys", "create", "--name", "mobile-app", "--role", "client")
    key = output.strip().splitlines()[-1]
    assert key.startswith("ciq_") and len(key) > 50
    _cli("keys", "create", "--name", "ops", "--role", "admin")
    assert "exists already" in _cli("keys", "create", "--name", "ops", code=1)
    # Only the roles a key can have are offered: a user's role comes from a token.
    assert "<client|admin>" in _cli("keys", "create", "--help")
    _cli("keys", "create", "--name", "someone", "--role", "user", code=2)
    listing = _cli("keys", "list")
    assert "mobile-app\tclient" in listing and "ops\tadmin" in listing
    assert key not in listing
    # Only a hash of the secret is stored: the key appears in no column.
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT * FROM api_keys").fetchall()
    secret = key.split("_", 2)[2]  # ciq_<id>_<secret>; the secret itself may contain "_"
    assert rows and not any(secret in str(v) for r in rows for v in r)
    _cli("keys", "revoke", "mobile-app")
    assert "revoked" in _cli("keys", "list")
    assert "no active key" in _cli("keys", "revoke", "mobile-app", code=1)
    assert "--name" in _cli("keys", "create", "--name", "bad name!", code=2)
    assert "--name" in _cli("keys", "create", "--name", "ops2\n", code=2)  # `$` took "\n"


async def test_a_key_is_verified_whole(migrated_url: str) -> None:
    """Only the exact key: a trailing newline once passed the pattern's `$`."""
    store = Store(migrated_url)
    try:
        keys = KeyRing(store)
        key = await keys.create("app", Role.CLIENT)
        assert await keys.verify(key) is not None
        assert await keys.verify(key + "\n") is None
    finally:
        await store.close()


def test_key_changes_are_audited(database: Path) -> None:
    _cli("keys", "create", "--name", "audited", "--role", "admin")
    _cli("keys", "revoke", "audited")

    async def entries() -> list[str]:
        store = Store(get_settings().database_url)
        try:
            return [f"{e.action} {e.target}" for e in await AuditLog(store).entries(10)]
        finally:
            await store.close()

    assert asyncio.run(entries()) == ["keys revoke key:audited", "keys create key:audited"]


def test_a_revoked_key_is_refused_by_a_running_server(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _cli("keys", "create", "--name", "short-lived").strip().splitlines()[-1]
    settings = secured_settings(
        tmp_path, database_url=get_settings().database_url, key_cache_seconds=0
    )
    with TestClient(create_app(settings)) as client:
        for headers in (bearer(key), {"X-API-Key": key}, {"X-Admin-Key": key}):
            assert client.get("/api/v1/content", headers=headers).status_code == 200
        wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        assert client.get("/api/v1/content", headers=bearer(wrong)).status_code == 401
        _cli("keys", "revoke", "short-lived")
        response = client.get("/api/v1/content", headers=bearer(key))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


def test_serve_refuses_an_open_public_bind(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTIQ_HOST", "0.0.0.0")
    get_settings.cache_clear()
    output = runner.invoke(app, ["serve"]).output
    assert "refusing to serve on 0.0.0.0" in output
    assert "CONTEXTIQ_AUTH_REQUIRED=true" in output and "CONTEXTIQ_ALLOW_OPEN=true" in output
    assert runner.invoke(app, ["serve"]).exit_code == 2


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("api.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_stored_admin_key_enables_retraining_in_the_ui(secured: Secured) -> None:
    status = secured.client.get("/api/v1/models", headers=bearer(secured.client_key)).json()
    assert status["retrain_enabled"] is True
