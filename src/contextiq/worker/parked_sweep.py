"""The worker's sweep of parked reports: late impressions' reports applied, stale ones dropped.

A report parked while its impression's transaction was still open is applied here; one whose
impression has not come within `CONTEXTIQ_ATTRIBUTION_WAIT_SECONDS` is dropped and counted in
`contextiq_parked_reports_expired_total{type}` (`store/parked.py`).
"""

import logging
from datetime import timedelta

from contextiq.observability.metrics import PARKED_REPORTS_EXPIRED
from contextiq.store.store import Store, utcnow

log = logging.getLogger(__name__)
#: How often the sweep runs: a stale report is dropped at most this much after its wait.
SWEEP_EVERY = timedelta(seconds=30)


async def sweep_parked(store: Store, wait: timedelta) -> int:
    """One sweep; returns how many reports were dropped. The worker runs it every
    `SWEEP_EVERY` (`worker/periodic.py`): a failed sweep leaves the reports parked."""
    expired = await store.sweep_parked(utcnow() - wait)
    for kind, n in expired.items():
        PARKED_REPORTS_EXPIRED.labels(kind).inc(n)
    if dropped := sum(expired.values()):
        log.info("dropped %d reports whose impression did not arrive in %s", dropped, wait)
    return dropped
