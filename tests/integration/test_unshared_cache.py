"""Two processes with their own in-process caches on one PostgreSQL database: the second says so."""

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contextiq.cache.unshared import UNSHARED_CACHE
from contextiq.services import Services, build_services
from tests.conftest import embedded_settings, until
from tests.integration.conftest import count_rows, eventually, fresh_pg_database

pytestmark = pytest.mark.integration

#: `pg_locks` rows of this database's advisory locks that are held.
ADVISORY_HELD = (
    "WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture
async def pg() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


async def _started(tmp: Path, url: str, cache_url: str) -> Services:
    services = build_services(embedded_settings(tmp, database_url=url, cache_url=cache_url))
    await services.start(relay=False, consume=False, serves_requests=False)
    return services


async def _locks_held(url: str, expected: int) -> None:
    """Wait until the database's advisory locks number `expected` (the check is a task)."""

    async def check() -> bool:
        return await count_rows(url, "pg_locks", ADVISORY_HELD) == expected

    await eventually(check, 10, f"{expected} advisory lock(s)")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage() == UNSHARED_CACHE]


async def test_the_second_process_on_memory_is_told_and_the_first_holds_on(
    pg: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    first = await _started(tmp_path / "a", pg, "memory://")
    try:
        await _locks_held(pg, 1)
        second = await _started(tmp_path / "b", pg, "memory://")
        await until(lambda: len(_warnings(caplog)) == 1, within=10)
        await second.stop()
        await _locks_held(pg, 1)  # still the first's
    finally:
        await first.stop()
    await _locks_held(pg, 0)  # released when the process stops
    third = await _started(tmp_path / "c", pg, "memory://")
    await _locks_held(pg, 1)
    await third.stop()
    assert len(_warnings(caplog)) == 1  # the third found no one else


async def test_processes_sharing_a_cache_take_no_lock(
    pg: str, tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    first = await _started(tmp_path / "a", pg, redis_url)
    second = await _started(tmp_path / "b", pg, redis_url)
    try:
        await asyncio.sleep(0.5)
        assert await count_rows(pg, "pg_locks", ADVISORY_HELD) == 0
    finally:
        await first.stop()
        await second.stop()
    assert not _warnings(caplog)
