"""One `serve` per SQLite database while the cache is in process (`memory://`).

Each server keeps its own `memory://` cache, so a second server on the same database file
never hears of the first one's writes and keeps serving the lists it cached before them.
`serve` therefore holds an OS file lock next to the database while it runs (released by the
kernel if the process dies); a second one is refused at once and told to share a cache.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url

from contextiq.backends import scheme
from contextiq.private_files import FILE_MODE


def lock_path(database_url: str, cache_url: str) -> Path | None:
    """`<database file>.serve.lock` when the cache is per process and the database a file."""
    if scheme(cache_url) != "memory":
        return None
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.serve.lock")


@contextmanager
def sole_server(database_url: str, cache_url: str) -> Iterator[None]:
    """Hold the database's serve lock while serving, or exit 2 with one line if it is held."""
    path = lock_path(database_url, cache_url)
    if path is None:
        yield
        return
    lock = FileLock(path, mode=FILE_MODE)  # owner-only, like the database beside it
    try:
        lock.acquire(blocking=False)
    except Timeout:
        typer.echo(
            f"error: another `contextiq serve` already serves {make_url(database_url).database}"
            " with its own in-process cache (CONTEXTIQ_CACHE_URL=memory://), so each would serve"
            " lists the other's writes made stale. For several processes use a shared cache:"
            " CONTEXTIQ_CACHE_URL=disk:///a/cache.db (this host) or redis://... (any host).",
            err=True,
        )
        raise typer.Exit(2) from None
    try:
        yield
    finally:
        lock.release()
