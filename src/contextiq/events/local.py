"""In-process delivery: publishing runs the handler, so "sent" means "applied"."""

import asyncio
from collections.abc import Sequence

from contextiq.events.base import BusUnavailable, EventBus, Handler
from contextiq.events.types import decode_events
from contextiq.store.records import OutboxEvent


class LocalBus(EventBus):
    backend = "local"

    def __init__(self) -> None:
        self._handler: Handler | None = None

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        if self._handler is None:
            raise BusUnavailable("no in-process consumer is running")
        # A handler failure propagates, so the relay leaves the rows unsent and retries.
        await self._handler(decode_events(e.payload for e in events))

    async def consume(self, handler: Handler) -> None:
        self._handler = handler
        try:
            await asyncio.Event().wait()
        finally:
            self._handler = None

    async def ping(self) -> None:
        if self._handler is None:
            raise BusUnavailable("no in-process consumer is running")
