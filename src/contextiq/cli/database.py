"""One line, not a traceback, when a command cannot open the database its URL names.

A new deployment's first mistake is usually the URL: a host that does not resolve, a server
that is not running, a database not created yet, a password that is wrong, a parameter the
driver does not take, a file in a folder that cannot be made. Every command that opens the
store connects here first, so each of them ends with the same line naming the URL (password
masked) and what to check, exit code 2.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from contextiq.security.redact import redact
from contextiq.store.engine import create_engine
from contextiq.store.migrate import upgrade
from contextiq.store.store import Store

#: What to check, by the URL's dialect.
_CHECK = {
    "sqlite": "that the file's folder exists (or can be created) and is writable",
    "postgresql": (
        "that the server runs and is reachable at that host and port, that the database"
        " exists (createdb NAME) and that the user and password are right"
    ),
}
T = TypeVar("T")
_FORM = "sqlite:///path/to.db or postgresql://user@host:5432/database"


async def _connect_once(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def explain(url: str, exc: BaseException) -> str:
    """The line for a failed connection: the URL, the driver's reason, what to check."""
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    said = " ".join(str(reason).split()) or type(reason).__name__
    try:
        dialect = make_url(url).get_backend_name()
    except (SQLAlchemyError, ValueError):
        dialect = ""
    check = _CHECK.get(dialect, f"its form: {_FORM}")
    return redact(f"cannot open the database {url}: {said}. Check CONTEXTIQ_DATABASE_URL: {check}")


def require_database(url: str) -> None:
    """Exit 2 with one line on stderr unless the database at `url` opens."""
    try:
        asyncio.run(_connect_once(url))
    # TypeError: a URL parameter the driver does not take (asyncpg's connect(), `?sslmod=`).
    except (OSError, SQLAlchemyError, ValueError, TypeError) as exc:
        typer.echo(f"error: {explain(url, exc)}", err=True)
        raise typer.Exit(2) from None


def migrate_database(url: str) -> None:
    """`require_database`, then bring the schema up to date (what most commands start with)."""
    require_database(url)
    upgrade(url)


def on_store(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run `work` on a store opened at `url`, closed afterwards (the commands' one event loop)."""

    async def run() -> T:
        store = Store(url)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())
