"""Erasure and export of one subject's data: a user's, or an anonymous session's.

Erasure here removes the rows and this deployment's shared cache keys at once, and writes a
`UserDeleted` event in the same transaction; every worker that applies it forgets the user
again (rows that raced with the request, its own caches), and the next trained model never
sees them, since training reads the interactions that are left.
"""

import uuid
from typing import Any

from contextiq.events.relay import OutboxRelay
from contextiq.events.types import UserDeleted
from contextiq.llm import ScoringService
from contextiq.recommend.catalog import Catalog
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.recommend.service import user_context
from contextiq.recommend.snapshots import SnapshotRecorder
from contextiq.store.group_commit import GroupCommitWriter
from contextiq.store.store import Store, utcnow


class UserDataService:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        rec_cache: RecommendationCache,
        snapshots: SnapshotRecorder,
        relay: OutboxRelay,
        rescorer: ScoringService | None,
        writer: GroupCommitWriter,
    ) -> None:
        self.store = store
        self.writer = writer
        self.catalog = catalog
        self.rec_cache = rec_cache
        self.snapshots = snapshots
        self.relay = relay
        self.rescorer = rescorer

    async def delete(self, user_id: str) -> dict[str, int]:
        """Erase the user (or session subject); returns how many rows and cache keys went,
        per kind."""
        llm_scores = 0
        if self.rescorer is not None:
            # Scores are cached by the user's recent taste, not their id: find it first.
            history = await self.store.user_history(user_id)
            liked = await self.catalog.get_many(history.recent_positive, None)
            llm_scores = await self.rescorer.forget(user_context(user_id, history, liked))
        self.snapshots.forget(user_id)
        # No impression of theirs is buffered from here on, nor later by a request that
        # started before the erasure ended; those buffered already are committed, for the
        # erasure to take.
        self.writer.erasing(user_id)
        try:
            await self.writer.flush()
            erasure = UserDeleted(event_id=uuid.uuid4().hex, user_id=user_id, requested_at=utcnow())
            removed = await self.store.delete_user(erasure)
            # A list such a request computes is not stored either: the user's generation
            # moves on here, and a list is stored only under the one it was computed for.
            removed["cached_recommendations"] = await self.rec_cache.forget_users([user_id])
        finally:
            self.writer.erased(user_id)
        removed["cached_llm_scores"] = llm_scores
        self.relay.nudge()
        return removed

    async def export(self, user_id: str) -> dict[str, Any]:
        return await self.store.user_export(user_id)
