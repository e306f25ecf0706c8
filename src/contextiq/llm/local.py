"""`local://`: semantic relevance from a small sentence-embedding model, no network.

The user's taste is the weighted mean of their recent positive items' vectors;
a candidate's score is its cosine to that profile, rescaled to 0..1. Item vectors
are read from the database (llm/item_vectors.py) when stored; the model runs only
for items without one, on one dedicated thread so the event loop never waits on it.
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

#: With stored vectors, how many missing texts a request may still embed (a just-upserted item).
ON_THE_SPOT = 2


def _liked_text(item: LikedItem) -> str:
    return item_text(item.title, item.category, item.tags, item.description)


def _candidate_text(item: Candidate) -> str:
    return item_text(item.title, item.category, item.tags, item.description)


def _pick(
    stored: dict[str, Vectors], embedded: dict[str, Vectors], content_id: str, text: str
) -> Vectors:
    vector = stored.get(content_id)
    return embedded[text] if vector is None else vector


class LocalScorer(Scorer):
    """Cosine relevance between a taste profile and each candidate.

    `floor` and `ceiling` map cosine onto 0..1: MiniLM puts unrelated short
    texts near 0.1 and near-duplicates above 0.8. With `vectors`, items take their
    stored vectors (one query, no model work); at most `on_the_spot` items without one are
    embedded, and when more lack one (a catalogue whose vectors are still being computed),
    only the stored ones are scored.
    """

    provider = "local"

    def __init__(
        self,
        embedder_factory: Callable[[], MiniLMEmbedder] = MiniLMEmbedder,
        floor: float = 0.1,
        ceiling: float = 0.8,
        max_cached_vectors: int = 100_000,
        vectors: ItemVectors | None = None,
        on_the_spot: int = ON_THE_SPOT,
    ) -> None:
        self.vectors = vectors
        self._on_the_spot = on_the_spot
        self._embedder_factory = vectors.embedder if vectors else embedder_factory
        self._embedder: CachedEmbedder | None = None
        self._max_cached_vectors = max_cached_vectors
        self._floor = floor
        self._span = ceiling - floor
        self._executor = (
            vectors.executor
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
        await asyncio.get_running_loop().run_in_executor(self._executor, self._loaded)

    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        liked = [item for item in user.recent if item.weight > 0]
        if not liked or not candidates:
            return {}
        stored = await self._stored(
            [i.content_id for i in liked if i.content_id] + [c.content_id for c in candidates]
        )
        texts = [_liked_text(i) for i in liked if i.content_id not in stored] + [
            _candidate_text(c) for c in candidates if c.content_id not in stored
        ]
        if self.vectors is not None and len(texts) > self._on_the_spot:
            # More than the budget allows (each text costs 15-30 ms of CPU, and the model has
            # one thread for every request): score what is stored, the rest stay ML-only
            # until their vectors are computed off the request path.
            liked = [i for i in liked if i.content_id in stored]
            candidates = [c for c in candidates if c.content_id in stored]
            texts = []
            if not liked or not candidates:
                return {}
        try:
            embedded = (
                await asyncio.get_running_loop().run_in_executor(self._executor, self._embed, texts)
                if texts
                else {}
            )
            liked_vectors = np.stack(
                [_pick(stored, embedded, i.content_id, _liked_text(i)) for i in liked]
            )
            candidate_vectors = np.stack(
                [_pick(stored, embedded, c.content_id, _candidate_text(c)) for c in candidates]
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ScorerError(f"local model failed: {exc}") from exc
        return self._scores(liked, candidates, liked_vectors, candidate_vectors)

    async def _stored(self, content_ids: list[str]) -> dict[str, Vectors]:
        if self.vectors is None:
            return {}
        try:
            return await self.vectors.get(content_ids)
        except Exception as exc:  # the database hiccuped: embed them, as without vectors
            log.warning("stored item vectors unavailable: %s", exc)
            return {}

    def _embed(self, texts: list[str]) -> dict[str, Vectors]:
        return dict(zip(texts, self._loaded().embed(texts), strict=True))

    def _scores(
        self,
        liked: Sequence[LikedItem],
        candidates: Sequence[Candidate],
        liked_vectors: Vectors,
        candidate_vectors: Vectors,
    ) -> dict[str, LLMScore]:
        weights = np.array([item.weight for item in liked], dtype=np.float32)
        profile = weights @ liked_vectors
        profile /= max(float(np.linalg.norm(profile)), 1e-9)
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
        if self.vectors is not None:
            await self.vectors.close()
        else:
            self._executor.shutdown(wait=False, cancel_futures=True)
