"""The read path: candidates, filters, ML score, LLM rescoring, blend, explain, cache."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from contextiq.domain import Content, Recommendation
from contextiq.llm import Candidate, LikedItem, ScoringService, UserContext, mix_scores
from contextiq.ml.base import Recommender
from contextiq.recommend.catalog import Catalog
from contextiq.recommend.explain import anchors
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.snapshots import SnapshotRecorder
from contextiq.store.records import History
from contextiq.store.store import Store

FRESH_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Result:
    user_id: str
    items: list[Recommendation]
    model_version: str | None
    llm_provider: str | None
    personalized: bool
    #: Some top candidates still await language-model scores: worth only a short cache life.
    llm_pending: bool = False


def _normalize(scores: Sequence[float]) -> list[float]:
    """Put raw model scores on 0..1 relative to this user's candidate pool."""
    if not scores:
        return []
    high, low = max(scores), min(scores)
    span = high - low
    return [1.0 if span <= 0 else (s - low) / span for s in scores]


def user_context(user_id: str, history: History, contents: dict[str, Content]) -> UserContext:
    liked = tuple(
        LikedItem(
            title=c.title,
            category=c.category,
            tags=c.tags,
            weight=history.weights[i],
            content_id=c.content_id,
            description=c.description,
        )
        for i in history.recent_positive
        if (c := contents.get(i)) is not None
    )
    return UserContext(user_id=user_id, recent=liked)


class RecommendationService:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        models: ModelHolder,
        snapshots: SnapshotRecorder,
        rescorer: ScoringService | None,
        ml_weight: float,
        llm_top_k: int,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.models = models
        self.snapshots = snapshots
        self.rescorer = rescorer
        self.ml_weight = ml_weight
        self.llm_top_k = llm_top_k

    async def recommend(
        self, user_id: str, limit: int, category: str | None, catalog_generation: int | None
    ) -> Result:
        result = await self._compute(user_id, limit, category, catalog_generation)
        self.snapshots.record(
            user_id,
            result.model_version,
            [{"content_id": i.content_id, "score": i.score} for i in result.items],
        )
        return result

    async def _compute(
        self, user_id: str, limit: int, category: str | None, generation: int | None
    ) -> Result:
        history = await self.store.user_history(user_id)
        model, version = self.models.model, self.models.version
        positives = {i: w for i, w in history.weights.items() if w > 0}
        if model is not None and positives:
            items = await self._personalized(model, history, limit, category, generation)
            if items:
                items, pending = await self._rescore(user_id, history, items, generation)
                provider = self._provider(items)
                return Result(user_id, items[:limit], version, provider, True, pending)
        items = await self._popular_and_fresh(history, limit, category)
        return Result(user_id, items, version, None, False)

    async def _personalized(
        self,
        model: Recommender,
        history: History,
        limit: int,
        category: str | None,
        generation: int | None,
    ) -> list[Recommendation]:
        pool = max(limit * 5, 50) if category is None else max(limit * 50, 500)
        ranked = model.recommend(history.weights, pool, exclude=history.weights.keys())
        contents = await self.catalog.get_many(
            [i for i, _ in ranked] + history.recent_positive, generation
        )
        ranked = [
            (i, s)
            for i, s in ranked
            if i in contents and (category is None or contents[i].category == category)
        ]
        if not ranked:
            return []
        ranked = ranked[: max(limit * 3, self.llm_top_k)]
        normalized = _normalize([s for _, s in ranked])
        because = anchors(model, history.recent_positive, [i for i, _ in ranked])
        out = []
        for (item_id, _), ml in zip(ranked, normalized, strict=True):
            content = contents[item_id]
            source = because.get(item_id)
            reason = (
                f"Because you liked {contents[source].title}"
                if source and source in contents
                else f"Matches your interest in {content.category}"
            )
            out.append(_item(content, ml, reason, "model"))
        return out

    async def _llm_inputs(
        self, user_id: str, history: History, head: list[Recommendation], generation: int | None
    ) -> tuple[UserContext, list[Candidate]]:
        contents = await self.catalog.get_many(
            history.recent_positive + [i.content_id for i in head], generation
        )
        candidates = [
            Candidate(
                content_id=i.content_id,
                title=i.title,
                category=i.category,
                tags=i.tags,
                description=contents[i.content_id].description if i.content_id in contents else "",
            )
            for i in head
        ]
        return user_context(user_id, history, contents), candidates

    async def _rescore(
        self,
        user_id: str,
        history: History,
        items: list[Recommendation],
        generation: int | None,
    ) -> tuple[list[Recommendation], bool]:
        """Blend in language-model scores; also says whether any top candidate lacked one."""
        if self.rescorer is None or self.llm_top_k == 0:
            return items, False
        user, candidates = await self._llm_inputs(
            user_id, history, items[: self.llm_top_k], generation
        )
        scores = await self.rescorer.score_within_budget(user, candidates)
        blended = []
        for item in items:
            b = mix_scores(item.ml_score, scores.get(item.content_id), self.ml_weight, item.reason)
            blended.append(replace(item, score=b.score, llm_score=b.llm_score, reason=b.reason))
        pending = any(c.content_id not in scores for c in candidates)
        return sorted(blended, key=lambda r: r.score, reverse=True), pending

    async def precompute_llm(self, user_id: str) -> int:
        """Score this user's likely candidates ahead of their next request; returns how many."""
        if self.rescorer is None or self.llm_top_k == 0 or self.models.model is None:
            return 0
        history = await self.store.user_history(user_id)
        if not any(w > 0 for w in history.weights.values()):
            return 0
        items = await self._personalized(self.models.model, history, self.llm_top_k, None, None)
        user, candidates = await self._llm_inputs(user_id, history, items[: self.llm_top_k], None)
        await self.rescorer.precompute(user, candidates)
        return len(candidates)

    def _provider(self, items: list[Recommendation]) -> str | None:
        if self.rescorer is None or all(i.llm_score is None for i in items):
            return None
        return f"{self.rescorer.provider}:{self.rescorer.model}"

    async def _popular_and_fresh(
        self, history: History, limit: int, category: str | None
    ) -> list[Recommendation]:
        skip = history.weights.keys()
        popular = [
            (c, s)
            for c, s in await self.store.popular_content(limit + len(skip), category)
            if c.content_id not in skip
        ]
        fresh = [
            c
            for c in await self.store.fresh_content(limit + len(skip), category)
            if c.content_id not in skip
        ]
        n_fresh = max(1, round(limit * FRESH_SHARE)) if fresh else 0
        top = max((s for _, s in popular), default=1.0) or 1.0
        items = [
            _item(c, s / top, f"Popular in {c.category} right now", "popular") for c, s in popular
        ]
        items = items[: limit - min(n_fresh, len(fresh))]
        seen = {i.content_id for i in items}
        for content in fresh:
            if len(items) >= limit:
                break
            if content.content_id not in seen:
                seen.add(content.content_id)
                items.append(_item(content, 0.5, f"New in {content.category}", "fresh"))
        return items


def _item(content: Content, ml: float, reason: str, source: str) -> Recommendation:
    return Recommendation(
        content_id=content.content_id,
        title=content.title,
        category=content.category,
        tags=content.tags,
        score=ml,
        ml_score=ml,
        llm_score=None,
        reason=reason,
        source=source,
    )
