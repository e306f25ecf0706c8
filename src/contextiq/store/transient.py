"""Retry store operations that failed for a passing reason (failover, deadlock, busy file).

Only operations that are safe to repeat are wrapped: writes key on event_id or upsert,
so a retry after an unknown outcome cannot double anything.
"""

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Serialization failure, deadlock, admin/crash shutdown, cannot connect now,
#: too many connections, and the connection-exception class.
TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08006"}
)


#: A statement stopped by its timeout (or cancelled): the database slow, or a lock held long.
QUERY_CANCELED = "57014"


def _sqlstate(exc: BaseException) -> str | None:
    # Reads through the raw driver (`Store.user_history`) raise the driver's own errors.
    found = getattr(exc.orig if isinstance(exc, DBAPIError) else exc, "sqlstate", None)
    return found if isinstance(found, str) else None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if _sqlstate(exc) in TRANSIENT_SQLSTATES:
            return True
        return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)
    if _sqlstate(exc) in TRANSIENT_SQLSTATES:
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return "database is locked" in str(exc)
    return isinstance(exc, ConnectionError | TimeoutError)


def is_passing(exc: BaseException) -> bool:
    """Failed for a reason of the moment, not of the event or the code: transient, or stopped
    by the statement timeout. Such a statement is not retried at once (it would wait as long
    again), but it sets no event aside and answers 503, not 500."""
    return is_transient(exc) or _sqlstate(exc) == QUERY_CANCELED


def retry_transient(
    attempts: int = 4, first_delay: float = 0.05
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    def decorate(operation: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(operation)
        async def attempt(*args: P.args, **kwargs: P.kwargs) -> T:
            delay = first_delay
            for _ in range(attempts - 1):
                try:
                    return await operation(*args, **kwargs)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    log.warning("%s: transient error, retrying: %s", operation.__name__, exc)
                    await asyncio.sleep(delay)
                    delay *= 4
            return await operation(*args, **kwargs)

        return attempt

    return decorate
