"""Rate limits per credential and per address: 429 with Retry-After, others unaffected,
and on Redis one allowance shared by every replica."""

import secrets
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from tests.conftest import embedded_settings
from tests.integration.conftest import redis_url  # noqa: F401 (a fixture)
from tests.security.conftest import bearer


def _keys() -> dict[str, str]:
    return {"api_key": secrets.token_urlsafe(24), "admin_key": secrets.token_urlsafe(24)}


def _limited(response: Any) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.json()["error"]["details"] == {"retry_after": retry_after}
    return retry_after


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rate")
    bootstrap(embedded_settings(root), lambda _: None, demo_items=20, demo_users=4)
    return root


def test_a_burst_over_the_limit_is_refused_while_another_key_is_not(seeded: Path) -> None:
    keys = _keys()
    settings = embedded_settings(seeded, rate_limit="3/minute", **keys)
    with TestClient(create_app(settings)) as client:
        mine, theirs = bearer(keys["api_key"]), {"X-API-Key": keys["admin_key"]}
        for _ in range(3):
            assert client.get("/api/v1/content", headers=mine).status_code == 200
        _limited(client.get("/api/v1/content", headers=mine))
        _limited(client.get("/api/v1/categories", headers=mine))
        assert client.get("/api/v1/content", headers=theirs).status_code == 200
        # Health stays out of it: load balancers probe it.
        assert all(client.get("/api/v1/health").status_code == 200 for _ in range(5))


def test_the_per_address_limit_covers_every_credential(seeded: Path) -> None:
    keys = _keys()
    settings = embedded_settings(seeded, rate_limit_per_ip="4/minute", **keys)
    with TestClient(create_app(settings)) as client:
        for key in (keys["api_key"], keys["admin_key"], keys["api_key"], keys["admin_key"]):
            assert client.get("/api/v1/content", headers=bearer(key)).status_code == 200
        _limited(client.get("/api/v1/content", headers=bearer(keys["admin_key"])))
        # A failed authentication still counts against the address.
        _limited(client.get("/api/v1/content", headers=bearer("wrong")))


@pytest.mark.integration
def test_two_replicas_on_one_redis_share_the_limit(
    seeded: Path,
    redis_url: str,  # noqa: F811
) -> None:
    keys = _keys()
    settings = embedded_settings(seeded, cache_url=redis_url, rate_limit="4/minute", **keys)
    with ExitStack() as stack:
        replicas = [stack.enter_context(TestClient(create_app(settings))) for _ in range(2)]
        headers = bearer(keys["api_key"])
        for n in range(4):
            assert replicas[n % 2].get("/api/v1/content", headers=headers).status_code == 200
        for replica in replicas:
            _limited(replica.get("/api/v1/content", headers=headers))
        assert (
            replicas[1].get("/api/v1/content", headers=bearer(keys["admin_key"])).status_code == 200
        )
    stored = redis.Redis.from_url(redis_url).keys("*")
    assert stored, "the counts live in Redis"
    assert not any(keys["api_key"].encode() in k for k in stored), "identities are hashed"
