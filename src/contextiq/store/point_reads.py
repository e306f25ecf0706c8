"""The request path's short indexed reads (a history, candidate rows), run where they cost least.

PostgreSQL's driver is asynchronous: a read is one message on a pooled connection. SQLite's
(aiosqlite) runs every call on a thread of its connection's own, and handing a read to that
thread and its answer back to the event loop cost about 0.75 ms of CPU per read on the 2-core
dev machine, against 0.06 ms for the history read itself (docs/benchmarks.md, "Thread hops").
So on a SQLite file these reads run on the calling thread, through a connection of that
thread's own: in WAL mode a reader never waits for the writer, and each statement sees
everything committed before it (autocommit), so a client still reads its own write at once.
"""

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

#: Seconds a read waits on a locked file (rare in WAL mode) before the store's retry takes
#: over with asynchronous back-off; a read must not hold the event loop for long.
BUSY_TIMEOUT_S = 0.1


class PointReads(Protocol):
    async def rows(self, sql: str, *params: Any) -> Sequence[Any]:
        """All rows of one read compiled for the store's dialect."""
        ...

    def close(self) -> None: ...


class DriverReads:
    """PostgreSQL: through the engine's pool and asyncpg itself (SQLAlchemy's results skipped)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def rows(self, sql: str, *params: Any) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            found: Sequence[Any] = await driver.fetch(sql, *params)
            return found

    def close(self) -> None:
        """The engine's pool is the store's to dispose of."""


class InlineSqliteReads:
    """On the calling thread, one read-only connection per thread (the event loop's, mostly)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    async def rows(self, sql: str, *params: Any) -> Sequence[Any]:
        return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
            self._local = threading.local()


def point_reads(engine: AsyncEngine) -> PointReads:
    return (
        InlineSqliteReads(str(engine.url.database))
        if engine.dialect.name == "sqlite"
        else DriverReads(engine)
    )
