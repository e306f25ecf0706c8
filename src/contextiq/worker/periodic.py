"""The worker's periodic upkeep: a job run at start and then every so often, whatever fails."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

log = logging.getLogger(__name__)


async def repeat(job: Callable[[], Awaitable[object]], every: timedelta, what: str) -> None:
    """Run `job` now and then every `every`. A failure (the database away) is logged and
    waits for the next round: each job's work is as well done a round later."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed, retrying in %s: %s", what, every, exc)
        await asyncio.sleep(every.total_seconds())
