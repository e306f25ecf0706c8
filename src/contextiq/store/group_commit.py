"""Group commit for single interactions: concurrent POSTs share one check and one transaction.

A lone request is written at once; requests that arrive while a write is in flight wait
for it and then go together. Under load this turns N transactions into a few, without a
timer adding latency when the service is idle.
"""

import asyncio
from enum import StrEnum

from contextiq.domain import Interaction
from contextiq.store.store import Store


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    UNKNOWN_CONTENT = "unknown_content"


class InteractionWriter:
    def __init__(self, store: Store, max_batch: int = 1_000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[Interaction, asyncio.Future[Outcome]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, item: Interaction) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                outcomes = await self._write([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    async def _write(self, items: list[Interaction]) -> list[Outcome]:
        known = await self.store.existing_content_ids([i.content_id for i in items])
        valid = [i for i in items if i.content_id in known]
        result = await self.store.record_interactions(valid)
        first_time = set(result.accepted)
        outcomes: list[Outcome] = []
        for item in items:
            if item.content_id not in known:
                outcomes.append(Outcome.UNKNOWN_CONTENT)
            elif item.event_id in first_time:
                first_time.discard(item.event_id)  # a repeat later in the batch is a duplicate
                outcomes.append(Outcome.ACCEPTED)
            else:
                outcomes.append(Outcome.DUPLICATE)
        return outcomes
