"""`local://`: semantic relevance from a small sentence-embedding model, no network.

The user's taste is the weighted mean of their recent positive items' vectors;
a candidate's score is its cosine to that profile, rescaled to 0..1. With stored item
vectors (llm/item_vectors.py, what the API and the worker use) a request reads them in one
query and never runs the model: an item without one takes its category's mean vector, a
coarse stand-in whose reason says so. Without a vector store (offline benchmarks) the model
embeds the texts, on one dedicated thread so the event loop never waits on it.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from contextiq.llm.base import Candidate, LikedItem, LLMScore, Scorer, ScorerError, UserContext
from contextiq.llm.embedder import CachedEmbedder, MiniLMEmbedder, Vectors
from contextiq.llm.item_vectors import MODEL, ItemVectors, item_text

log = logging.getLogger(__name__)

#: The reason of a score from a category's mean vector (the item has no stored vector yet).
CATEGORY_REASON = "its category is close in theme to"


def _liked_text(item: LikedItem) -> str:
    return item_text(item.title, item.category, item.tags, item.description)


def _candidate_text(item: Candidate) -> str:
    return item_text(item.title, item.category, item.tags, item.description)


class LocalScorer(Scorer):
    """Cosine relevance between a taste profile and each candidate.

    `floor` and `ceiling` map cosine onto 0..1: MiniLM puts unrelated short
    texts near 0.1 and near-duplicates above 0.8. With `vectors`, items take their
    stored vectors, else their category's mean (no model work); an item with neither is
    not scored.
    """

    provider = "local"

    def __init__(
        self,
        embedder_factory: Callable[[], MiniLMEmbedder] = MiniLMEmbedder,
        floor: float = 0.1,
        ceiling: float = 0.8,
        max_cached_vectors: int = 100_000,
        vectors: ItemVectors | None = None,
    ) -> None:
        self.vectors = vectors
        self.inline = vectors is not None
        self._embedder_factory = embedder_factory
        self._embedder: CachedEmbedder | None = None
        self._max_cached_vectors = max_cached_vectors
        self._floor = floor
        self._span = ceiling - floor
        self._executor: ThreadPoolExecutor | None = (
            None
            if vectors
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="contextiq-local")
        )
        self.model = MODEL

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
        """With stored vectors: the category means (the model is not needed for requests)."""
        if self.vectors is not None:
            count = await self.vectors.load_category_means()
            log.info(
                "local scorer: %d category means from %d stored item vectors",
                len(self.vectors.category_means),
                count,
            )
        elif self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._loaded)

    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        liked = [item for item in user.recent if item.weight > 0]
        if not liked or not candidates:
            return {}
        if self.vectors is not None:
            return await self._score_stored(self.vectors, liked, candidates)
        try:
            embedded = await asyncio.get_running_loop().run_in_executor(
                self._executor,
                self._loaded().embed,
                [_liked_text(i) for i in liked] + [_candidate_text(c) for c in candidates],
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ScorerError(f"local model failed: {exc}") from exc
        coarse = [False] * len(candidates)
        return self._scores(
            liked, candidates, embedded[: len(liked)], embedded[len(liked) :], coarse
        )

    async def _score_stored(
        self, vectors: ItemVectors, liked: list[LikedItem], candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        """Stored vectors, else category means; one query and a few dot products."""
        try:
            stored = await vectors.get(
                [i.content_id for i in liked if i.content_id] + [c.content_id for c in candidates]
            )
        except Exception as exc:  # the database hiccuped: these candidates stay ML-only
            raise ScorerError(f"stored item vectors unavailable: {exc}") from exc
        means = vectors.category_means
        liked_pairs = [
            (i, v)
            for i in liked
            if (v := stored.get(i.content_id, means.get(i.category))) is not None
        ]
        scored = [
            (c, v, c.content_id not in stored)
            for c in candidates
            if (v := stored.get(c.content_id, means.get(c.category))) is not None
        ]
        if len(liked_pairs) < len(liked) or len(scored) < len(candidates):
            vectors.refresh_means_soon()  # a category had no mean: vectors may exist by now
        if not liked_pairs or not scored:
            return {}
        return self._scores(
            [i for i, _ in liked_pairs],
            [c for c, _, _ in scored],
            np.stack([v for _, v in liked_pairs]),
            np.stack([v for _, v, _ in scored]),
            [coarse for _, _, coarse in scored],
        )

    def _scores(
        self,
        liked: Sequence[LikedItem],
        candidates: Sequence[Candidate],
        liked_vectors: Vectors,
        candidate_vectors: Vectors,
        coarse: Sequence[bool],
    ) -> dict[str, LLMScore]:
        weights = np.array([item.weight for item in liked], dtype=np.float32)
        profile = weights @ liked_vectors
        profile /= max(float(np.linalg.norm(profile)), 1e-9)
        cosines = candidate_vectors @ profile
        closest = (candidate_vectors @ liked_vectors.T).argmax(axis=1)
        scores = np.clip((cosines - self._floor) / self._span, 0.0, 1.0)
        return {
            c.content_id: LLMScore(
                score=float(score),
                reason=f"{CATEGORY_REASON if rough else 'close in theme to'} "
                f"{liked[int(nearest)].title}",
            )
            for c, score, nearest, rough in zip(candidates, scores, closest, coarse, strict=True)
        }

    async def close(self) -> None:
        if self.vectors is not None:
            await self.vectors.close()
        elif self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
