"""The worker's sweep of parked reports: late impressions' reports applied, stale ones dropped.

A report parked while its impression's transaction was still open is applied here; one whose
impression has not come within `CONTEXTIQ_ATTRIBUTION_WAIT_SECONDS` is dropped and counted in
`contextiq_parked_reports_expired_total{type}` (`store/parked.py`).
"""

import asyncio
import logging
from datetime import timedelta

from contextiq.observability.metrics import PARKED_REPORTS_EXPIRED
from contextiq.store.store import Store, utcnow

log = logging.getLogger(__name__)
#: How often the sweep runs: a stale report is dropped at most this much after its wait.
SWEEP_EVERY = timedelta(seconds=30)


async def sweep_parked(store: Store, wait: timedelta) -> int:
    """One sweep; returns how many reports were dropped."""
    expired = await store.sweep_parked(utcnow() - wait)
    for kind, n in expired.items():
        PARKED_REPORTS_EXPIRED.labels(kind).inc(n)
    return sum(expired.values())


async def run_parked_sweep(store: Store, wait: timedelta) -> None:
    """Sweep every `SWEEP_EVERY`; a failure (the database away) waits for the next round:
    the reports stay parked meanwhile."""
    while True:
        try:
            if dropped := await sweep_parked(store, wait):
                log.info("dropped %d reports whose impression did not arrive in %s", dropped, wait)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("parked report sweep failed, retrying in %s: %s", SWEEP_EVERY, exc)
        await asyncio.sleep(SWEEP_EVERY.total_seconds())
