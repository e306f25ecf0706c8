"""Merging an anonymous session into a user (`POST /api/v1/users/{id}/merge`).

A session's interactions are stored like a user's, under the session's subject
(`domain.session_subject`), so a visitor is personalized from their first event. Merging moves
those rows to the user and writes a `SessionMerged` event in the same transaction; every
consumer then moves the session's counters after the session's own events (same partition).
"""

import uuid

from contextiq.domain import session_subject
from contextiq.events.relay import OutboxRelay
from contextiq.events.types import SessionMerged
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.store import Store, utcnow


class SessionService:
    def __init__(self, store: Store, rec_cache: RecommendationCache, relay: OutboxRelay) -> None:
        self.store = store
        self.rec_cache = rec_cache
        self.relay = relay

    async def merge(self, user_id: str, session_id: str) -> int:
        """Move the session's events to the user; returns how many moved (0 on a repeat)."""
        subject = session_subject(session_id)
        merge = SessionMerged(
            event_id=uuid.uuid4().hex, session=subject, user_id=user_id, merged_at=utcnow()
        )
        moved = await self.store.merge_session(merge)
        if moved:
            # Both lists changed now (the rows moved), before any worker applies the event.
            await self.rec_cache.invalidate_users([user_id, subject])
            self.relay.nudge()
        return moved
