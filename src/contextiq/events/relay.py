"""Moves outbox rows to the bus at least once; the interaction write never waits on it."""

import asyncio
import contextlib
import logging
from datetime import timedelta

from contextiq.events.base import EventBus
from contextiq.observability.metrics import OUTBOX_PUBLISHED
from contextiq.store.store import Store, utcnow

log = logging.getLogger(__name__)
#: How long sent rows stay in the outbox before the relay purges them.
SENT_ROWS_KEPT = timedelta(days=1)


class OutboxRelay:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        batch_size: int = 1_000,
        poll_seconds: float = 0.2,
        settle_seconds: float = 0.02,
        retention: timedelta = SENT_ROWS_KEPT,
        purge_every: timedelta = timedelta(minutes=10),
    ) -> None:
        self.store = store
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.retention = retention
        self.purge_every = purge_every
        self.healthy = True
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        """New rows were written in this process: relay them now instead of at the next poll."""
        self._wake.set()

    async def drain_once(self) -> int:
        async with self.store.claim_outbox(self.batch_size) as events:
            if events:
                await self.bus.publish(events)
                OUTBOX_PUBLISHED.inc(len(events))
            return len(events)

    async def run(self) -> None:
        backoff = self.poll_seconds
        purged_at = utcnow()
        while True:
            try:
                sent = await self.drain_once()
                self.healthy = True
                backoff = self.poll_seconds
                # Under load too: a relay that never catches up would keep every row it sent.
                if utcnow() - purged_at > self.purge_every:
                    await self.store.purge_published_outbox(utcnow() - self.retention)
                    purged_at = utcnow()
                if sent == self.batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker or database is down: keep rows, back off
                self.healthy = False
                log.warning("outbox relay failed, retrying in %.1fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            await self._idle(sent)

    async def _idle(self, sent: int) -> None:
        """Wait for rows: a nudge from this process, or the poll interval for other writers.

        After a drain that sent something, rows from the next few group commits are let
        pile up for `settle_seconds`: under load one claim, publish and mark then carries
        many commits instead of one each, which the in-process worker pays for too.
        """
        if sent:
            await asyncio.sleep(self.settle_seconds)
        if not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        self._wake.clear()
