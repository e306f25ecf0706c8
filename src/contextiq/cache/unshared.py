"""Two processes with their own in-process caches on one database: said, or refused.

Each process on `memory://` keeps its own cache, which another process's writes never reach,
so a second server keeps serving lists the first one's interactions made stale. On a SQLite
file the CLI refuses whichever starts second (`cli/sole_process.py`). On PostgreSQL, where
processes may run on several hosts, each one on `memory://` holds an advisory lock for its
life instead, and one that finds it held says so once: refusing would also stop a rolling
restart, whose new server starts before the old one has stopped. It is a warning, not a
guard: a lock lost with its connection (a database restart) is not taken again.
"""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from contextiq.store.exclusive import exclusively

log = logging.getLogger(__name__)

#: The lock's name: a lock file beside a SQLite database, an advisory lock on PostgreSQL.
SOLE_PROCESS_LOCK = "contextiq-sole-process"

UNSHARED_CACHE = (
    "another `contextiq serve` or `contextiq worker` with its own in-process cache"
    " (CONTEXTIQ_CACHE_URL=memory://) runs on this database: neither hears of the other's"
    " writes, so each may serve lists made stale for up to CONTEXTIQ_CACHE_TTL_SECONDS."
    " Processes sharing a database should share a cache: CONTEXTIQ_CACHE_URL=redis://... ."
)


async def hold_while_running(engine: AsyncEngine) -> None:
    """Hold the lock until cancelled, or warn once and return if another process holds it."""
    async with exclusively(engine, SOLE_PROCESS_LOCK) as held:
        if not held:
            log.warning(UNSHARED_CACHE)
            return
        await asyncio.Event().wait()
