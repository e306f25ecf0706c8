"""Async engines for SQLite (embedded) and PostgreSQL (at scale), picked by URL.

Both hide bound parameters from their errors: a failed statement's message reaches the logs,
and its parameters are user and session ids and what they did, which logs must not keep after
an erasure (docs/security.md).
"""

import socket
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contextiq.backends import SchemeRegistry
from contextiq.private_files import private_file


def normalize_url(url: str) -> str:
    """Accept plain `sqlite://` and `postgresql://` URLs and add the async driver.

    libpq's `sslmode=` (what managed PostgreSQL services document) becomes asyncpg's `ssl=`,
    which takes the same values: passed on as it is, asyncpg refuses the keyword and no
    process can connect.
    """
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        parsed.drivername, parsed.drivername
    )
    parsed = parsed.set(drivername=driver)
    if driver == "postgresql+asyncpg" and "sslmode" in parsed.query:
        query = dict(parsed.query)
        query.setdefault("ssl", query.pop("sslmode"))
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


class EngineFactory(Protocol):
    def __call__(self, url: str, *, statement_timeout_ms: int) -> AsyncEngine: ...


SQLITE_POOL_SIZE = 16
#: Connections one process may hold on PostgreSQL: `max_connections` is sized from their sum.
POSTGRES_POOL_SIZE = 20
POSTGRES_MAX_OVERFLOW = 10


def _sqlite(url: str, *, statement_timeout_ms: int) -> AsyncEngine:
    """`sqlite:///path/to.db`: embedded, one writer at a time."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        private_file(Path(parsed.database))  # its -wal and -shm get the same owner-only mode
    engine = create_async_engine(
        url,
        hide_parameters=True,
        connect_args={"timeout": 30},
        # Every aiosqlite connection is a thread of its own: opening one per checkout past a
        # small pool (SQLAlchemy's default overflow) cost more CPU than the query under load.
        # Readers past the pool wait for a connection instead; two cores gain nothing more.
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=0,
        pool_timeout=30,
        # The connection returned last is taken first: at low concurrency one or two threads
        # and their page caches stay warm instead of all 16 taking turns (a history read and
        # a one-row read in turn: 30 % less CPU; the saving is fixed, so smaller on big reads).
        pool_use_lifo=True,
        # No rollback (a thread hop) when a connection comes back: SQLAlchemy already ends
        # every transaction it began, and the raw reads of the request path begin none
        # (a bulk loader's connection is invalidated, not returned).
        pool_reset_on_return=None,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


#: How long a PostgreSQL connection may go unanswered before it is dropped. A server that
#: left the network without a reset (a failover that moved its address, a host that died)
#: otherwise held each call on it until the kernel's retransmissions gave up, about 15
#: minutes (docs/benchmarks.md, "A database that vanishes").
DEAD_PEER_SECONDS = 30
#: Keepalive probes of a connection waiting for an answer: after 10 s of silence, 3 probes
#: 5 s apart, so a server gone while a call waits is found within 25 s.
_KEEPALIVE = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}


def _drop_dead_peers(dbapi_connection: Any, _record: Any) -> None:
    """Bound a connection's silence at the TCP level, so a call on a server that vanished
    fails within `DEAD_PEER_SECONDS` and the store retries it on a new connection
    (store/transient.py). A long query is untouched: the server's kernel answers the
    probes while it works. Read from asyncpg's transport, which it keeps private."""
    sock = dbapi_connection.driver_connection._transport.get_extra_info("socket")
    if sock is None or sock.family == socket.AF_UNIX:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in _KEEPALIVE.items():
        if hasattr(socket, option):  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # data sent and never acknowledged
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, DEAD_PEER_SECONDS * 1000)


def _postgresql(url: str, *, statement_timeout_ms: int) -> AsyncEngine:
    """`postgresql://user@host:port/db`: many writers, replicas, `SKIP LOCKED` outbox claims."""
    engine = create_async_engine(
        url,
        hide_parameters=True,
        # Sized for a replica's concurrent requests: overflow connections are opened and
        # closed per checkout, which costs more than the query. No pre-ping round trip:
        # a connection that died is invalidated and the store retries (store/transient.py).
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_MAX_OVERFLOW,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={
            "timeout": 10,
            "server_settings": {
                "statement_timeout": str(statement_timeout_ms),
                # A relay holds its claim open while it publishes; a dead one lets go.
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )
    event.listen(engine.sync_engine, "connect", _drop_dead_peers)
    return engine


DATABASES = SchemeRegistry[EngineFactory](
    "database",
    {
        "sqlite": _sqlite,
        "sqlite+aiosqlite": _sqlite,
        "postgresql": _postgresql,
        "postgresql+asyncpg": _postgresql,
    },
)


def create_engine(url: str, statement_timeout_ms: int = 5_000) -> AsyncEngine:
    """The engine the URL names; `UnknownScheme` lists the known schemes otherwise."""
    factory = DATABASES.factory(url)
    return factory(normalize_url(url), statement_timeout_ms=statement_timeout_ms)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while the writer commits; NORMAL sync is durable in WAL mode.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not left readable in free pages (store/scrub.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
    # SQLite's own lower() folds ASCII only; catalogue search lowers titles in any script, as
    # PostgreSQL does.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value
