"""The dedupe's ids forgotten past their window, so `processed_events` holds a window of them.

Each applied event leaves its id (`Store.apply_events`), 5 million a day at scale; without
this the table only grew. An id is kept `CONTEXTIQ_DEDUPE_WINDOW_DAYS` after its event was
applied, longer than any delivery can come again (DEPLOYMENT.md, "Event deduplication").
"""

import logging
from datetime import timedelta

from contextiq.store.store import Store, utcnow

log = logging.getLogger(__name__)
#: How often the worker purges: a round deletes what 10 minutes of events left (35,000 ids at
#: 5 million a day), a few short batches.
PURGE_EVERY = timedelta(minutes=10)


async def purge_processed(store: Store, window: timedelta) -> int:
    """One purge of the ids applied more than `window` ago; returns how many went."""
    if purged := await store.purge_processed_events(utcnow() - window):
        log.info("forgot %d processed event ids applied more than %s ago", purged, window)
    return purged
