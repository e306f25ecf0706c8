"""Language-model scores computed ahead of time, so requests find them in the cache.

The worker enqueues users whose events it applied; after a model swap the most
recently active users are scored again, since their candidates changed.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable

from contextiq.recommend.service import RecommendationService

log = logging.getLogger(__name__)


class LLMPrecomputer:
    def __init__(self, recommendations: RecommendationService, remember: int = 1_000) -> None:
        self.recommendations = recommendations
        self.remember = remember
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._wake = asyncio.Event()
        self._model_version = recommendations.models.version

    def enqueue(self, user_ids: Iterable[str]) -> None:
        for user_id in user_ids:
            self._pending[user_id] = None
            self._recent[user_id] = None
            self._recent.move_to_end(user_id)
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)
        self._wake.set()

    async def run(self) -> None:
        while True:
            version = self.recommendations.models.version
            if version != self._model_version:
                self._model_version = version
                self._pending.update(self._recent)
            if not self._pending:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), 5.0)
                except TimeoutError:
                    continue
            user_id, _ = self._pending.popitem(last=False)
            try:
                await self.recommendations.precompute_llm(user_id)
            except Exception as exc:  # a provider outage: requests fall back to ML alone
                # Not naming the user: logs outlive an erasure (docs/security.md).
                log.warning("LLM precompute for a user failed: %s", exc)
