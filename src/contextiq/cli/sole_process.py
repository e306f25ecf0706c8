"""One `serve` or `worker` per SQLite database while the cache is in process (`memory://`).

Each process keeps its own `memory://` cache, so a second one on the same database file never
hears of the first one's writes: a second server keeps serving the lists it cached before
them, and a separate worker's invalidations (events applied, sessions expired) reach only its
own memory while the server serves stale lists. `serve` and `worker` therefore hold one OS
file lock beside the database while they run (released by the kernel if the process dies);
whichever starts second is refused at once and told to share a cache. On PostgreSQL the
second one is told, not refused (`cache/unshared.py`).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url

from contextiq.backends import scheme
from contextiq.cache.unshared import SOLE_PROCESS_LOCK
from contextiq.private_files import FILE_MODE
from contextiq.store.exclusive import lock_file


def lock_path(database_url: str, cache_url: str) -> Path | None:
    """The lock's file when the cache is per process and the database a file, else None."""
    if scheme(cache_url) != "memory":
        return None
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return lock_file(Path(url.database), SOLE_PROCESS_LOCK)


#: A worker on a database no lock file reaches (PostgreSQL) with its own cache: not refused,
#: but what it costs the servers is said once at start-up.
_UNSHARED_WORKER = (
    "warning: `contextiq worker` with the in-process cache (CONTEXTIQ_CACHE_URL=memory://):"
    " the lists a server cached are not invalidated by the events this worker applies, so they"
    " may be served stale for up to CONTEXTIQ_CACHE_TTL_SECONDS. Servers and workers in"
    " separate processes should share a cache: CONTEXTIQ_CACHE_URL=redis://... ."
)


@contextmanager
def sole_process(command: str, database_url: str, cache_url: str) -> Iterator[None]:
    """Hold the lock while `contextiq COMMAND` runs, or exit 2 with one line if it is held."""
    path = lock_path(database_url, cache_url)
    if path is None:
        if command == "worker" and scheme(cache_url) == "memory":
            typer.echo(_UNSHARED_WORKER, err=True)
        yield
        return
    lock = FileLock(path, mode=FILE_MODE)  # owner-only, like the database beside it
    try:
        lock.acquire(blocking=False)
    except Timeout:
        typer.echo(
            f"error: cannot start `contextiq {command}`: a `contextiq serve` or `contextiq"
            f" worker` already runs on {make_url(database_url).database} with its own in-process"
            " cache (CONTEXTIQ_CACHE_URL=memory://), which the other's writes never reach, so"
            " lists would be served stale. One `contextiq serve` runs the worker itself on"
            " local:// events; for more processes use a shared cache:"
            " CONTEXTIQ_CACHE_URL=disk:///a/cache.db (this host) or redis://... (any host).",
            err=True,
        )
        raise typer.Exit(2) from None
    try:
        yield
    finally:
        lock.release()
