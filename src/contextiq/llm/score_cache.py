"""LLM scores in the shared cache, keyed so that any change to the inputs misses.

The key holds a digest of the user context (their recent positive items, not
their id: two users with the same recent taste share scores), the content id and a
digest of the item's text (an edited item is scored afresh, not served its old score for
the TTL), the provider, the model and the prompt version.
"""

import json
import logging
from collections.abc import Sequence
from hashlib import blake2b

from contextiq.cache.base import Cache, CacheUnavailable
from contextiq.llm.base import Candidate, LLMScore, UserContext

log = logging.getLogger(__name__)

KEY_PREFIX = "llmscore:v1"


def context_hash(user: UserContext) -> str:
    """Stable digest of what the scorer sees about a user (`local://` reads the descriptions)."""
    recent = [
        [i.title, i.category, list(i.tags), round(i.weight, 4), i.description] for i in user.recent
    ]
    payload = json.dumps(recent, ensure_ascii=False, separators=(",", ":"))
    return blake2b(payload.encode(), digest_size=16).hexdigest()


def candidate_hash(candidate: Candidate) -> str:
    """Digest of the candidate's text that the prompt shows the model."""
    text = [candidate.title, candidate.category, list(candidate.tags), candidate.description]
    payload = json.dumps(text, ensure_ascii=False, separators=(",", ":"))
    return blake2b(payload.encode(), digest_size=8).hexdigest()


class ScoreCache:
    """Reads and writes scores; a cache outage just means misses, never an error.

    A TTL of 0 keeps nothing (`local://` with stored vectors: scoring again costs less than
    the round trips).
    """

    def __init__(
        self, cache: Cache, provider: str, model: str, prompt_version: str, ttl_seconds: float
    ) -> None:
        self._cache = cache
        scope = blake2b(
            f"{provider}\0{model}\0{prompt_version}".encode(), digest_size=8
        ).hexdigest()
        self._prefix = f"{KEY_PREFIX}:{scope}"
        self._ttl = ttl_seconds

    def key(self, ctx_hash: str, candidate: Candidate) -> str:
        return f"{self._prefix}:{ctx_hash}:{candidate.content_id}:{candidate_hash(candidate)}"

    async def get_many(self, ctx_hash: str, candidates: Sequence[Candidate]) -> dict[str, LLMScore]:
        if self._ttl <= 0:
            return {}
        try:
            values = await self._cache.get_many([self.key(ctx_hash, c) for c in candidates])
        except CacheUnavailable as exc:
            log.warning("LLM score cache unavailable, serving without it: %s", exc)
            return {}
        found: dict[str, LLMScore] = {}
        for candidate, raw in zip(candidates, values, strict=True):
            if raw is not None:
                score, reason = json.loads(raw)
                found[candidate.content_id] = LLMScore(score=float(score), reason=str(reason))
        return found

    async def forget(self, ctx_hash: str) -> int:
        """Drop every score cached for one user context; returns how many."""
        return await self._cache.delete_prefix(f"{self._prefix}:{ctx_hash}:")

    async def put_many(
        self, ctx_hash: str, candidates: Sequence[Candidate], scores: dict[str, LLMScore]
    ) -> None:
        """Keep the scores of those `candidates` that have one."""
        if self._ttl <= 0:
            return
        values = {
            self.key(ctx_hash, c): json.dumps([s.score, s.reason], ensure_ascii=False).encode()
            for c in candidates
            if (s := scores.get(c.content_id)) is not None
        }
        try:
            await self._cache.set_many(values, self._ttl)  # one round trip, one connection
        except CacheUnavailable as exc:
            log.warning("LLM score cache unavailable, scores not kept: %s", exc)
