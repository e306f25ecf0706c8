"""`local://`: semantic relevance from a small sentence-embedding model, no network.

The user's taste is the weighted mean of their recent positive items' vectors;
a candidate's score is its cosine to that profile, rescaled to 0..1. The model
runs on one dedicated thread so the event loop never waits on it.
"""

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from contextiq.llm.base import Candidate, LikedItem, LLMScore, Scorer, ScorerError, UserContext
from contextiq.llm.embedder import CachedEmbedder, MiniLMEmbedder

MAX_DESCRIPTION_CHARS = 400


def item_text(title: str, category: str, tags: Sequence[str], description: str = "") -> str:
    """The text embedded for an item; liked items and candidates share the format."""
    parts = [title.strip(), f"Category: {category.strip()}."]
    if tags:
        parts.append("Tags: " + ", ".join(t.strip() for t in tags) + ".")
    if description:
        parts.append(description.strip()[:MAX_DESCRIPTION_CHARS])
    return " ".join(parts)


def _liked_text(item: LikedItem) -> str:
    return item_text(item.title, item.category, item.tags)


def _candidate_text(item: Candidate) -> str:
    return item_text(item.title, item.category, item.tags, item.description)


class LocalScorer(Scorer):
    """Cosine relevance between a taste profile and each candidate.

    `floor` and `ceiling` map cosine onto 0..1: MiniLM puts unrelated short
    texts near 0.1 and near-duplicates above 0.8.
    """

    provider = "local"

    def __init__(
        self,
        embedder_factory: Callable[[], MiniLMEmbedder] = MiniLMEmbedder,
        floor: float = 0.1,
        ceiling: float = 0.8,
        max_cached_vectors: int = 100_000,
    ) -> None:
        self._embedder_factory = embedder_factory
        self._embedder: CachedEmbedder | None = None
        self._max_cached_vectors = max_cached_vectors
        self._floor = floor
        self._span = ceiling - floor
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contextiq-local")
        self.model = "all-MiniLM-L6-v2"

    def _loaded(self) -> CachedEmbedder:
        if self._embedder is None:
            self._embedder = CachedEmbedder(self._embedder_factory(), self._max_cached_vectors)
            self.model = self._embedder.model_name
        return self._embedder

    @property
    def embedded_count(self) -> int:
        """How many distinct texts went through the model (vector-cache misses)."""
        return 0 if self._embedder is None else self._embedder.embedded_count

    async def warm_up(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._loaded)

    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        liked = [item for item in user.recent if item.weight > 0]
        if not liked or not candidates:
            return {}
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._score_sync, liked, candidates)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ScorerError(f"local model failed: {exc}") from exc

    def _score_sync(
        self, liked: Sequence[LikedItem], candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        embedder = self._loaded()
        liked_vectors = embedder.embed([_liked_text(item) for item in liked])
        weights = np.array([item.weight for item in liked], dtype=np.float32)
        profile = weights @ liked_vectors
        profile /= max(float(np.linalg.norm(profile)), 1e-9)
        candidate_vectors = embedder.embed([_candidate_text(c) for c in candidates])
        cosines = candidate_vectors @ profile
        closest = (candidate_vectors @ liked_vectors.T).argmax(axis=1)
        scores = np.clip((cosines - self._floor) / self._span, 0.0, 1.0)
        return {
            c.content_id: LLMScore(
                score=float(score), reason=f"close in theme to {liked[int(nearest)].title}"
            )
            for c, score, nearest in zip(candidates, scores, closest, strict=True)
        }

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
