"""API keys: write routes need X-API-Key, admin routes X-Admin-Key, when configured."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from tests.conftest import embedded_settings

EVENT = {"user_id": "u1", "content_id": "content_0001", "interaction_type": "like"}


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("locked")
    settings = embedded_settings(root, api_key="write-secret", admin_key="admin-secret")
    bootstrap(settings, lambda _: None, demo_items=60, demo_users=12)
    with TestClient(create_app(settings)) as client:
        yield client


def test_reads_stay_open(locked: TestClient) -> None:
    assert locked.get("/api/v1/recommendations", params={"user_id": "u1"}).status_code == 200
    assert locked.get("/api/v1/content").status_code == 200


def test_writes_need_the_api_key(locked: TestClient) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = locked.post("/api/v1/interact", json=EVENT, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert locked.delete("/api/v1/content/content_0001").status_code == 401
    ok = locked.post("/api/v1/interact", json=EVENT, headers={"X-API-Key": "write-secret"})
    assert ok.status_code == 202


def test_retrain_needs_the_admin_key(locked: TestClient) -> None:
    assert locked.get("/api/v1/models").json()["retrain_enabled"] is True
    assert locked.post("/api/v1/models/retrain").status_code == 401
    response = locked.post("/api/v1/models/retrain", headers={"X-Admin-Key": "admin-secret"})
    assert response.status_code == 202
    assert response.json()["status"] in {"requested", "already_running"}
