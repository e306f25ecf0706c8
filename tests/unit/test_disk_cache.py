"""`disk://` is what lets request processes on one host share generations without Redis."""

import asyncio
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from contextiq.cache import CacheUnavailable, open_cache


def _bump(folder: str, times: int) -> None:
    async def bump() -> None:
        cache = open_cache(f"disk://{folder}")
        for _ in range(times):
            await cache.incr("generation")
        await cache.close()

    asyncio.run(bump())


async def test_processes_opening_one_folder_share_entries_and_every_bump(tmp_path: Path) -> None:
    url = f"disk://{tmp_path / 'cache'}"
    one, other = open_cache(url), open_cache(url)
    await one.set("list", b"items", 60)
    assert await other.get("list") == b"items"

    spawn = multiprocessing.get_context("spawn")
    bumpers = [spawn.Process(target=_bump, args=(str(tmp_path / "cache"), 100)) for _ in range(2)]
    for process in bumpers:
        process.start()
    for process in bumpers:
        process.join(60)
        assert process.exitcode == 0
    assert await one.get_int("generation") == 200
    await one.close()
    await other.close()


async def test_a_write_lock_held_too_long_makes_the_cache_unavailable(tmp_path: Path) -> None:
    cache = open_cache(f"disk://{tmp_path / 'cache'}")
    await cache.set("warm", b"1", 60)  # the file and its tables exist
    holder = sqlite3.connect(tmp_path / "cache" / "cache.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(CacheUnavailable, match="disk cache"):
            await cache.incr("generation")
        assert await cache.get("warm") == b"1"  # readers are never blocked (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await cache.incr("generation") == 1
    await cache.close()


def test_a_disk_url_must_name_a_folder() -> None:
    with pytest.raises(ValueError, match="names a folder"):
        open_cache("disk://")
