"""Shared fixtures: an isolated embedded deployment per test module."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings


def embedded_settings(root: Path, **overrides: object) -> Settings:
    """Embedded defaults rooted in a temporary folder; ML-only unless a test asks for an LLM."""
    values: dict[str, object] = {
        "data_dir": root,
        "database_url": f"sqlite+aiosqlite:///{root / 'db.sqlite'}",
        "model_dir": root / "models",
        "llm_url": "none://",
        "retrain_every_events": 0,
        "retrain_every_seconds": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small seeded catalogue with a trained model, built once per module."""
    settings = embedded_settings(tmp_path_factory.mktemp("demo"))
    bootstrap(settings, lambda _: None, demo_items=300, demo_users=80)
    return settings


def drain_outbox(client: TestClient, timeout: float = 60.0) -> None:
    """Wait until the in-process worker applied every seeded event (profiles, popularity)."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    assert client.portal is not None
    deadline = time.monotonic() + timeout
    while client.portal.call(store.pending_outbox) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the outbox did not drain")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def client(demo_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings)) as test_client:
        drain_outbox(test_client)
        yield test_client
