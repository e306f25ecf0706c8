"""A cache in a SQLite file on this host: shared by its processes, with nothing else to run.

`contextiq serve --workers N` needs one generation counter per user that every request process
sees, or an interaction taken by one leaves the others serving stale lists. Redis gives that
across hosts; this file gives it on one host, so the embedded defaults can use every core.
Reads take no lock (WAL) and cost microseconds, writes are one short transaction, so calls run
inline like the in-process cache's. Written on the standard library's `sqlite3`: the one
library made for this (`diskcache`) is unmaintained and unpickles what it reads
(CVE-2025-69872); here values are bytes and counters integers, never objects.

Entries carry their TTL and counters their lifetime (`Cache.incr`'s `forget_after`), and each
write removes a few expired entries and forgotten counters, so the file stays about the request
rate times the TTL plus the users active within a counter's lifetime. Nothing is evicted early:
a counter lost while entries named after it live could bring back a list that an interaction
had orphaned.
"""

import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from contextiq.cache.base import Cache, CacheUnavailable
from contextiq.private_files import private_file

T = TypeVar("T")

#: `PRAGMA user_version` of the tables below; a file with an older one is rebuilt on opening.
SCHEMA_VERSION = 1
SCHEMA = (
    "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL)"
    " WITHOUT ROWID",
    "CREATE INDEX entries_by_expiry ON entries (expires_at)",
    # expires_at NULL: never forgotten.
    "CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at REAL)"
    " WITHOUT ROWID",
    "CREATE INDEX counters_by_expiry ON counters (expires_at)",
)
PUT = (
    "INSERT INTO entries VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
    "SET value = excluded.value, expires_at = excluded.expires_at"
)
#: Run with every write: expired entries and forgotten counters leave a few at a time, never
#: in one long transaction.
REMOVE_EXPIRED = tuple(
    f"DELETE FROM {table} WHERE key IN "
    f"(SELECT key FROM {table} WHERE expires_at <= ? ORDER BY expires_at LIMIT 16)"
    for table in ("entries", "counters")
)
#: A counter's value as reads see it: a forgotten one is absent until it is removed.
COUNTER = "SELECT value FROM counters WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
#: The entry, only while its counter reads the expected value (0 when absent).
PUT_IF_COUNTER = (
    f"INSERT INTO entries SELECT ?, ?, ? WHERE coalesce(({COUNTER}), 0) = ? "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
#: After `PUT_IF_COUNTER`, in its transaction: the entry's live counter, if it has a lifetime,
#: kept longer. A counter that reads as expected is exactly one that let the entry in.
KEEP_COUNTER = "UPDATE counters SET expires_at = ? WHERE key = ? AND value = ? AND expires_at > ?"
#: One more, from 1 again once forgotten; the lifetime (NULL: none) starts over.
BUMP = (
    "INSERT INTO counters VALUES (?, 1, ?) ON CONFLICT (key) DO UPDATE "
    "SET value = CASE WHEN expires_at <= ? THEN 1 ELSE value + 1 END, "
    "expires_at = excluded.expires_at"
)


class DiskCache(Cache):
    backend = "disk"
    remote = False

    def __init__(self, path: Path, timeout_seconds: float = 0.25) -> None:
        private_file(path)  # owner-only, and so its -wal and -shm
        # Processes starting together wait for each other's set-up as long as it takes.
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # a cache: a crash may lose the last puts
        self._transaction(self._create)
        # Then a call waits for another process's write (held for microseconds) only this long;
        # past it the call fails like an unreachable Redis and the request is served uncached.
        self._db.execute(f"PRAGMA busy_timeout = {round(timeout_seconds * 1000)}")

    def _create(self) -> None:
        """This version's tables, unless another process made them already.

        A file written before counters had a lifetime (user_version 0, as a new file's) is
        emptied, or its counters would never go: entries and counters together, never the
        counters alone, since a counter back at 0 would name again the entries it had
        orphaned. Losing both is safe, as a restart is for the in-process cache.
        """
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version >= SCHEMA_VERSION:
            return
        for statement in ("DROP TABLE IF EXISTS entries", "DROP TABLE IF EXISTS counters"):
            self._db.execute(statement)
        for statement in SCHEMA:
            self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"disk cache: {exc}") from exc

    def _transaction(self, run: Callable[[], T]) -> T:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = run()
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # never left open: every later write would fail
                self._db.execute("ROLLBACK")
            raise
        return result

    def _write(self, statements: Iterable[tuple[str, tuple[object, ...]]]) -> list[int]:
        """Statements in one transaction, then a few expired entries and forgotten counters
        removed with them; returns how many rows each statement changed."""

        def run() -> list[int]:
            changed = [self._db.execute(sql, params).rowcount for sql, params in statements]
            now = time.time()
            for sql in REMOVE_EXPIRED:
                self._db.execute(sql, (now,))
            return changed

        return self._call(lambda: self._transaction(run))

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
        self,
        counter: str,
        expected: int,
        key: str,
        value: bytes,
        ttl_seconds: float,
        forget_after: float | None = None,
    ) -> bool:
        now = time.time()
        statements: list[tuple[str, tuple[object, ...]]] = [
            (PUT_IF_COUNTER, (key, value, now + ttl_seconds, counter, now, expected))
        ]
        if forget_after is not None:
            statements.append((KEEP_COUNTER, (now + forget_after, counter, expected, now)))
        return self._write(statements)[0] > 0

    async def delete(self, key: str) -> None:
        self._write(
            [
                ("DELETE FROM entries WHERE key = ?", (key,)),
                ("DELETE FROM counters WHERE key = ?", (key,)),
            ]
        )

    async def delete_prefix(self, prefix: str) -> int:
        matching = "WHERE substr(key, 1, ?) = ?"

        def delete() -> int:
            params = (len(prefix), prefix)
            deleted = self._db.execute(f"DELETE FROM entries {matching}", params).rowcount
            # Forgotten counters go uncounted: they were absent already.
            self._db.execute(
                f"DELETE FROM counters {matching} AND expires_at <= ?", (*params, time.time())
            )
            return deleted + self._db.execute(f"DELETE FROM counters {matching}", params).rowcount

        return self._call(delete)

    async def incr(self, key: str, forget_after: float | None = None) -> int:
        value = self._one(
            f"{BUMP} RETURNING value", self._bump_params(key, forget_after, time.time())
        )
        return value if isinstance(value, int) else 0  # always an int: the row was just written

    async def incr_many(self, keys: Collection[str], forget_after: float | None = None) -> None:
        now = time.time()
        self._write((BUMP, self._bump_params(key, forget_after, now)) for key in keys)

    @staticmethod
    def _bump_params(key: str, forget_after: float | None, now: float) -> tuple[object, ...]:
        """`BUMP`'s parameters."""
        return key, None if forget_after is None else now + forget_after, now

    async def get_int(self, key: str) -> int:
        value = self._one(COUNTER, (key, time.time()))
        return value if isinstance(value, int) else 0

    async def ping(self) -> None:
        self._one("SELECT 1", ())

    async def close(self) -> None:
        self._db.close()
