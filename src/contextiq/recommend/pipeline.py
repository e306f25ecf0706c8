"""The read path: candidates, filters, ML score, LLM rescoring, blend, explain, cache."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from contextiq.domain import Content, Recommendation
from contextiq.llm.base import Candidate, LikedItem, LLMScore, UserContext
from contextiq.recommend.cache import RecommendationCache
from contextiq.recommend.explain import anchors
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.snapshots import SnapshotRecorder
from contextiq.store.records import History
from contextiq.store.store import Store

FRESH_SHARE = 0.3


class Rescorer(Protocol):
    provider: str
    model: str

    async def score_within_budget(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]: ...


@dataclass(frozen=True, slots=True)
class Result:
    user_id: str
    items: list[Recommendation]
    model_version: str | None
    llm_provider: str | None
    cached: bool
    personalized: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _normalize(scores: Sequence[float]) -> list[float]:
    """Put raw model scores on 0..1 relative to this user's candidate pool."""
    if not scores:
        return []
    high, low = max(scores), min(scores)
    span = high - low
    return [1.0 if span <= 0 else (s - low) / span for s in scores]


def user_context(user_id: str, history: History, contents: dict[str, Content]) -> UserContext:
    liked = tuple(
        LikedItem(title=c.title, category=c.category, tags=c.tags)
        for c in (contents.get(i) for i in history.recent_positive)
        if c is not None
    )
    return UserContext(user_id=user_id, recent=liked)


class Recommender:
    def __init__(
        self,
        store: Store,
        cache: RecommendationCache,
        models: ModelHolder,
        snapshots: SnapshotRecorder,
        rescorer: Rescorer | None,
        ml_weight: float,
        llm_top_k: int,
    ) -> None:
        self.store = store
        self.cache = cache
        self.models = models
        self.snapshots = snapshots
        self.rescorer = rescorer
        self.ml_weight = ml_weight
        self.llm_top_k = llm_top_k

    async def recommend(self, user_id: str, limit: int, category: str | None) -> Result:
        key = await self.cache.key(user_id, self.models.version, limit, category or "")
        hit = await self.cache.get(key)
        if hit is not None:
            hit["cached"] = True
            hit["items"] = [Recommendation(**{**i, "tags": tuple(i["tags"])}) for i in hit["items"]]
            return Result(**hit)
        result = await self._compute(user_id, limit, category)
        await self.cache.put(key, result.to_dict())
        self.snapshots.record(
            user_id,
            result.model_version,
            [{"content_id": i.content_id, "score": i.score} for i in result.items],
        )
        return result

    async def _compute(self, user_id: str, limit: int, category: str | None) -> Result:
        history = await self.store.user_history(user_id)
        model, version = self.models.model, self.models.version
        positives = {i: w for i, w in history.weights.items() if w > 0}
        if model is not None and positives:
            items = await self._personalized(model, history, limit, category)
            if items:
                items = await self._rescore(user_id, history, items)
                return Result(user_id, items[:limit], version, self._provider(items), False, True)
        items = await self._popular_and_fresh(history, limit, category)
        return Result(user_id, items, version, None, False, False)

    async def _personalized(
        self, model: Any, history: History, limit: int, category: str | None
    ) -> list[Recommendation]:
        pool = max(limit * 5, 50) if category is None else max(limit * 50, 500)
        ranked = model.recommend(history.weights, pool, exclude=history.weights.keys())
        contents = await self.store.get_contents([i for i, _ in ranked] + history.recent_positive)
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

    async def _rescore(
        self, user_id: str, history: History, items: list[Recommendation]
    ) -> list[Recommendation]:
        if self.rescorer is None or self.llm_top_k == 0:
            return items
        head = items[: self.llm_top_k]
        contents = await self.store.get_contents(
            history.recent_positive + [i.content_id for i in head]
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
        scores = await self.rescorer.score_within_budget(
            user_context(user_id, history, contents), candidates
        )
        blended = []
        for item in items:
            llm = scores.get(item.content_id)
            if llm is None:
                blended.append(item)
                continue
            score = self.ml_weight * item.ml_score + (1 - self.ml_weight) * llm.score
            blended.append(
                Recommendation(
                    content_id=item.content_id,
                    title=item.title,
                    category=item.category,
                    tags=item.tags,
                    score=score,
                    ml_score=item.ml_score,
                    llm_score=llm.score,
                    reason=llm.reason or item.reason,
                    source=item.source,
                )
            )
        return sorted(blended, key=lambda r: r.score, reverse=True)

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
