"""Shared fixtures: an isolated embedded deployment per test module."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import InteractionRecorded
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.integration.conftest import fresh_pg_database


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Poll `condition` until it holds; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def stored_events(store: Store, n: int, first: int = 0) -> list[InteractionRecorded]:
    """`n` interactions stored as the API stores them, numbered from `first`: the events a
    worker applies (each adds one to the shared training count)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        Interaction(f"e{k}", f"u{k % 3}", "c1", InteractionType.VIEW, 1.0, start + timedelta(k))
        for k in range(first, first + n)
    ]
    await store.record_interactions(items)
    return [InteractionRecorded(i) for i in items]


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database of its own on each backend, for tests that open their own
    stores or engines on it (as several processes would)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        await upgrade_async(url)
        yield url
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def store(migrated_url: str) -> AsyncIterator[Store]:
    """A store on `migrated_url` (each backend), closed afterwards; a module may define its own."""
    s = Store(migrated_url)
    try:
        yield s
    finally:
        await s.close()
