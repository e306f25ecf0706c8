"""Shared fixtures: an isolated embedded deployment per test module."""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Poll `condition` until it holds; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def embedded_settings(root: Path, **overrides: object) -> Settings:
    """Embedded defaults rooted in a temporary folder; ML-only unless a test asks for an LLM."""
    values: dict[str, object] = {
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


@pytest.fixture(scope="module")
def client(demo_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings)) as test_client:
        yield test_client
