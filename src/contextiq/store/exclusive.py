"""A named lock that one process at a time holds, across every process on the database.

Training reads every stored interaction and writes the model registry: two at once would
double the memory and race on the registry. On PostgreSQL the lock is an advisory lock (any
host); on SQLite, which serves one host, a lock file beside the database (`filelock`). Both
are let go by a process that dies, with its session or its file descriptor.
"""

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contextiq.private_files import FILE_MODE

#: How often a waiting process tries again.
POLL_SECONDS = 1.0


class _Lock(Protocol):
    async def try_acquire(self) -> bool: ...

    async def release(self, held: bool) -> None: ...

    async def held(self) -> bool | None:
        """Whether any process holds it now, read without taking it; None if it cannot tell."""
        ...


def _advisory_key(name: str) -> int:
    """The bigint key `name`'s advisory lock is taken under."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class _AdvisoryLock:
    """`pg_try_advisory_lock` on a connection kept for the block."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.engine = engine
        self.key = _advisory_key(name)
        self.conn: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        if self.conn is None:
            self.conn = await self.engine.connect()
        held = bool(
            (
                await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            ).scalar()
        )
        # The lock belongs to the session: ending the transaction keeps it, and an idle
        # session is not ended by idle_in_transaction_session_timeout as an open one is.
        await self.conn.commit()
        return held

    async def release(self, held: bool) -> None:
        if self.conn is None:
            return
        if held:
            with suppress(Exception):  # a lost connection took the lock with it
                await self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                await self.conn.commit()
        await self.conn.close()

    async def held(self) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname ="
                    " current_database()) AND classid = CAST(:hi AS oid)"
                    " AND objid = CAST(:lo AS oid) AND objsubid = 1)"
                ),
                # A bigint key is held as two 32-bit halves.
                {"hi": (self.key >> 32) & 0xFFFFFFFF, "lo": self.key & 0xFFFFFFFF},
            )
        return bool(found)


#: Linux's table of every file lock held on the host, with the holder's file as
#: `major:minor:inode` (hex device numbers).
PROC_LOCKS = Path("/proc/locks")


class _FileLock:
    """An exclusive `flock` on `<database>.<name>.lock`, without blocking."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = FileLock(path, mode=FILE_MODE)  # owner-only, like the database beside it

    async def try_acquire(self) -> bool:
        try:
            self.lock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    async def release(self, held: bool) -> None:
        if held:
            self.lock.release()

    async def held(self) -> bool | None:
        return self._listed()

    def _listed(self) -> bool | None:
        """Whether `PROC_LOCKS` lists an `flock` on the file; None where there is no such
        table (not Linux)."""
        try:
            table = PROC_LOCKS.read_text()
        except OSError:
            return None
        try:
            found = self.path.stat()
        except FileNotFoundError:  # never created: never held
            return False
        file = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
        # A holder's line: `1: FLOCK  ADVISORY  WRITE <pid> <file> 0 EOF`; a waiter's has `->`.
        return any(
            fields[1:2] == ["FLOCK"] and fields[5:6] == [file]
            for fields in (line.split() for line in table.splitlines())
        )


class _Alone:
    """An in-memory SQLite database: no other process can see it."""

    async def try_acquire(self) -> bool:
        return True

    async def release(self, held: bool) -> None:
        return None

    async def held(self) -> None:
        return None


def lock_file(database: Path, name: str) -> Path:
    """Where SQLite's lock `name` lives: beside the database, so every process finds it."""
    return database.with_name(f"{database.name}.{name}.lock")


def _lock(engine: AsyncEngine, name: str) -> _Lock:
    if engine.dialect.name == "postgresql":
        return _AdvisoryLock(engine, name)
    database = engine.url.database
    if not database or database == ":memory:":
        return _Alone()
    return _FileLock(lock_file(Path(database), name))


async def is_held(engine: AsyncEngine, name: str) -> bool | None:
    """Whether any process holds `name` now, without taking it (taking it, even for an
    instant, could turn away a process that tried then); None where that cannot be told:
    an in-memory database, or a lock file on a host with no lock table to read."""
    return await _lock(engine, name).held()


@asynccontextmanager
async def exclusively(
    engine: AsyncEngine,
    name: str,
    wait: float = 0.0,
    waiting: Callable[[], object] | None = None,
) -> AsyncIterator[bool]:
    """True if this process holds `name` for the block, False if another held it throughout.

    Without `wait` it does not wait; with it, it tries again every `POLL_SECONDS` for up to
    `wait` seconds, after calling `waiting` once (to say so).
    """
    lock = _lock(engine, name)
    held = False
    try:
        held = await lock.try_acquire()
        if not held and wait > 0:
            if waiting is not None:
                waiting()
            deadline = time.monotonic() + wait
            while not held and (left := deadline - time.monotonic()) > 0:
                await asyncio.sleep(min(POLL_SECONDS, left))
                held = await lock.try_acquire()
        yield held
    finally:
        await lock.release(held)
