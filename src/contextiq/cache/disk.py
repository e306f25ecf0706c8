"""A cache in a SQLite file on this host: shared by its processes, with nothing else to run.

`contextiq serve --workers N` needs one generation counter per user that every request process
sees, or an interaction taken by one leaves the others serving stale lists. Redis gives that
across hosts; this file gives it on one host, so the embedded defaults can use every core.
Reads take no lock (WAL) and cost microseconds, writes are one short transaction, so calls run
inline like the in-process cache's. Written on the standard library's `sqlite3`: the one
library made for this (`diskcache`) is unmaintained and unpickles what it reads
(CVE-2025-69872); here values are bytes and counters integers, never objects.

Entries carry their TTL and each write removes a few expired ones, so the file stays about
the request rate times the TTL. Nothing is evicted early: a lost generation counter could bring
back a list that an interaction had orphaned.
"""

import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from contextiq.cache.base import Cache, CacheUnavailable

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""
PUT = (
    "INSERT INTO entries VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
    "SET value = excluded.value, expires_at = excluded.expires_at"
)
#: Run with every write: expired entries leave a few at a time, never in one long transaction.
REMOVE_EXPIRED = (
    "DELETE FROM entries WHERE key IN "
    "(SELECT key FROM entries WHERE expires_at <= ? ORDER BY expires_at LIMIT 16)"
)
#: The entry, only while its counter reads the expected value (0 when absent).
PUT_IF_COUNTER = (
    "INSERT INTO entries SELECT ?, ?, ? WHERE coalesce("
    "(SELECT value FROM counters WHERE key = ?), 0) = ? ON CONFLICT (key) DO UPDATE "
    "SET value = excluded.value, expires_at = excluded.expires_at"
)
BUMP = "INSERT INTO counters VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1"


class DiskCache(Cache):
    backend = "disk"
    remote = False

    def __init__(self, path: Path, timeout_seconds: float = 0.25) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Processes starting together wait for each other's set-up as long as it takes.
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # a cache: a crash may lose the last puts
        self._db.executescript(SCHEMA)
        # Then a call waits for another process's write (held for microseconds) only this long;
        # past it the call fails like an unreachable Redis and the request is served uncached.
        self._db.execute(f"PRAGMA busy_timeout = {round(timeout_seconds * 1000)}")

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"disk cache: {exc}") from exc

    def _write(self, statements: Iterable[tuple[str, tuple[object, ...]]]) -> int:
        """Statements in one transaction, then a few expired entries removed with them;
        returns how many rows the statements changed."""

        def run() -> int:
            changed = 0
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    changed += self._db.execute(sql, params).rowcount
                self._db.execute(REMOVE_EXPIRED, (time.time(),))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # never left open: every later write would fail
                    self._db.execute("ROLLBACK")
                raise
            return changed

        return self._call(run)

    def _one(self, sql: str, params: tuple[object, ...]) -> object:
        """The first column of the one row a statement gives, run to its end (None: no row)."""
        rows = self._call(lambda: self._db.execute(sql, params).fetchall())
        return rows[0][0] if rows else None

    async def get(self, key: str) -> bytes | None:
        value = self._one(
            "SELECT value FROM entries WHERE key = ? AND expires_at > ?", (key, time.time())
        )
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._write([(PUT, (key, value, time.time() + ttl_seconds))])

    async def set_many(self, values: Mapping[str, bytes], ttl_seconds: float) -> None:
        expires_at = time.time() + ttl_seconds
        self._write((PUT, (key, value, expires_at)) for key, value in values.items())

    async def set_if_counter(
        self, counter: str, expected: int, key: str, value: bytes, ttl_seconds: float
    ) -> bool:
        params = (key, value, time.time() + ttl_seconds, counter, expected)
        return self._write([(PUT_IF_COUNTER, params)]) > 0

    async def delete(self, key: str) -> None:
        self._write(
            [
                ("DELETE FROM entries WHERE key = ?", (key,)),
                ("DELETE FROM counters WHERE key = ?", (key,)),
            ]
        )

    async def delete_prefix(self, prefix: str) -> int:
        def delete() -> int:
            deleted = 0
            for table in ("entries", "counters"):
                cursor = self._db.execute(
                    f"DELETE FROM {table} WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
                )
                deleted += cursor.rowcount
            return deleted

        return self._call(delete)

    async def incr(self, key: str) -> int:
        value = self._one(f"{BUMP} RETURNING value", (key,))
        return value if isinstance(value, int) else 0  # always an int: the row was just written

    async def incr_many(self, keys: Collection[str]) -> None:
        self._write((BUMP, (key,)) for key in keys)

    async def get_int(self, key: str) -> int:
        value = self._one("SELECT value FROM counters WHERE key = ?", (key,))
        return value if isinstance(value, int) else 0

    async def ping(self) -> None:
        self._one("SELECT 1", ())

    async def close(self) -> None:
        self._db.close()
