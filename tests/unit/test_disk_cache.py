"""`disk://` is what lets request processes on one host share generations without Redis."""

import asyncio
import multiprocessing
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from contextiq.cache import CacheUnavailable, open_cache


def _bump(url: str, times: int) -> None:
    async def bump() -> None:
        cache = open_cache(url)
        for _ in range(times):
            await cache.incr("generation")
        await cache.incr_many(["generation"])
        await cache.close()

    asyncio.run(bump())


async def test_processes_opening_one_file_share_entries_and_every_bump(tmp_path: Path) -> None:
    url = f"disk://{tmp_path / 'shared' / 'cache.db'}"  # the folder is made
    one, other = open_cache(url), open_cache(url)
    await one.set("list", b"items", 60)
    assert await other.get("list") == b"items"

    spawn = multiprocessing.get_context("spawn")
    bumpers = [spawn.Process(target=_bump, args=(url, 100)) for _ in range(2)]
    for process in bumpers:
        process.start()
    for process in bumpers:
        process.join(60)
        assert process.exitcode == 0
    assert await one.get_int("generation") == 202
    await one.close()
    await other.close()


async def test_expired_entries_leave_the_file_as_others_are_written(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    cache = open_cache(f"disk://{path}")
    await cache.set_many({f"old{n}": b"x" for n in range(10)}, 0.01)
    await asyncio.sleep(0.05)
    await cache.set("new", b"y", 60)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key FROM entries").fetchall() == [("new",)]
    await cache.close()


async def test_a_file_written_before_counters_had_a_lifetime_is_emptied(tmp_path: Path) -> None:
    """Its entries go with its counters (which would never go): a list must not outlive the
    counter it was named after."""
    path = tmp_path / "cache.db"
    with closing(sqlite3.connect(path)) as db:  # as the previous version left it
        db.executescript(
            "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL,"
            " expires_at REAL NOT NULL) WITHOUT ROWID;"
            "CREATE INDEX entries_by_expiry ON entries (expires_at);"
            "CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
        )
        db.execute("INSERT INTO entries VALUES ('recs:u:3', x'00', ?)", (time.time() + 60,))
        db.execute("INSERT INTO counters VALUES ('gen:user:u', 3)")
        db.commit()
    cache = open_cache(f"disk://{path}")
    assert (await cache.get("recs:u:3"), await cache.get_int("gen:user:u")) == (None, 0)
    assert await cache.incr("gen:user:u", forget_after=60) == 1
    assert await cache.set_if_counter("gen:user:u", 1, "recs:u:1", b"x", 30, forget_after=60)
    await cache.close()
    reopened = open_cache(f"disk://{path}")  # now of this version: kept
    assert (await reopened.get("recs:u:1"), await reopened.get_int("gen:user:u")) == (b"x", 1)
    await reopened.close()


async def test_forgotten_counters_leave_the_file_as_others_are_written(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    cache = open_cache(f"disk://{path}")
    await cache.incr_many([f"gen:{n}" for n in range(10)], forget_after=0.01)
    await cache.incr("kept")
    await asyncio.sleep(0.05)
    await cache.set("new", b"y", 60)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT key FROM counters").fetchall() == [("kept",)]
    await cache.close()


async def test_a_write_lock_held_too_long_makes_the_cache_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    cache = open_cache(f"disk://{path}")
    await cache.set("warm", b"1", 60)
    holder = sqlite3.connect(path, isolation_level=None)
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


def test_a_disk_url_must_name_a_file() -> None:
    with pytest.raises(ValueError, match="names the cache's file"):
        open_cache("disk://")
