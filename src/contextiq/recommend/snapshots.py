"""Records what was served, in batches, off the request path."""

import asyncio
import logging
from typing import Any

from contextiq.store.group_commit import GroupCommitWriter
from contextiq.store.store import Store

log = logging.getLogger(__name__)


class SnapshotRecorder:
    def __init__(self, store: Store, writer: GroupCommitWriter, max_buffer: int = 10_000) -> None:
        self.store = store
        #: Fences erasures for snapshots as for impressions (`GroupCommitWriter.erasing`).
        self.writer = writer
        self.max_buffer = max_buffer
        self._buffer: list[tuple[str, str | None, list[dict[str, Any]]]] = []

    def since(self) -> int:
        """What a request reads before it reads anything of the user's, for `record`."""
        return self.writer.erasures

    def record(
        self, user_id: str, model_version: str | None, items: list[dict[str, Any]], since: int
    ) -> None:
        """Buffer what was served, unless the user was erased after the request started
        (`since`): an erasure forgets what is buffered, and must not miss what comes later."""
        if self.writer.erased_since(user_id, since):
            return
        if len(self._buffer) < self.max_buffer:
            self._buffer.append((user_id, model_version, items))

    def forget(self, user_id: str) -> None:
        """Drop a user's snapshots not written yet (their data is being erased)."""
        self._buffer = [s for s in self._buffer if s[0] != user_id]

    async def flush(self) -> None:
        batch, self._buffer = self._buffer, []
        try:
            await self.store.save_snapshots(batch)
        except Exception as exc:  # snapshots are an audit trail, never worth a failed request
            log.warning("dropped %d recommendation snapshots: %s", len(batch), exc)

    async def run(self, interval_seconds: float = 2.0) -> None:
        try:
            while True:
                await asyncio.sleep(interval_seconds)
                await self.flush()
        finally:
            await self.flush()
