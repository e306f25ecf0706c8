"""The read path: filtered candidates, ML score, LLM rescoring, rules and diversity, explain."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from contextiq.domain import Content, Recommendation
from contextiq.llm import Candidate, LikedItem, ScoringService, UserContext, mix_scores
from contextiq.ml.base import ItemMask, Recommender
from contextiq.recommend.catalog import Catalog
from contextiq.recommend.diversity import rerank
from contextiq.recommend.explain import Explainer
from contextiq.recommend.filters import FilterColumns, Filters
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.passing import PassingItems
from contextiq.recommend.promotions import (
    RuleBook,
    Share,
    boost,
    capped,
    next_change,
    pin,
    reserve,
)
from contextiq.recommend.request import ListRequest
from contextiq.recommend.snapshots import SnapshotRecorder
from contextiq.recommend.variant import DEFAULT, Variant
from contextiq.rules.columns import CatalogColumns
from contextiq.rules.definitions import Rule
from contextiq.rules.expression import Expr
from contextiq.rules.predicate import matches
from contextiq.store.records import History
from contextiq.store.store import Store, utcnow

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
    #: Seconds until an item leaves its window or a rule changes: the most a cache may keep it.
    ttl_seconds: float | None = None


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


@dataclass
class Pool:
    """A request's candidates and what later steps need to look for more."""

    items: list[Recommendation]
    contents: dict[str, Content]
    model: Recommender | None
    history: History | None
    skip: Collection[str]
    allowed: ItemMask | None
    columns: CatalogColumns | None
    generation: int | None
    version: str | None = None


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
        columns: FilterColumns,
        rulebook: RuleBook,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.models = models
        self.snapshots = snapshots
        self.rescorer = rescorer
        self.ml_weight = ml_weight
        self.llm_top_k = llm_top_k
        self.columns = columns
        self.rulebook = rulebook
        self.explainer = Explainer()
        self.passing = PassingItems(store, catalog)

    async def recommend(
        self,
        user_id: str,
        request: ListRequest,
        catalog_generation: int | None,
        variant: Variant = DEFAULT,
    ) -> Result:
        since = self.snapshots.since()
        result = await self._compute(user_id, request, catalog_generation, variant)
        self.snapshots.record(
            user_id,
            result.model_version,
            [{"content_id": i.content_id, "score": i.score} for i in result.items],
            since,
        )
        return result

    async def warm_up(
        self, user_ids: Sequence[str], generation: int | None, concurrency: int = 16
    ) -> None:
        """Serve some users' lists (unrecorded) before the process takes its first request.

        What a process does once would otherwise fall on the first second of traffic:
        opening its database connections, reading the popular items' rows into the
        catalogue, first calls into the model's libraries. At 100,000 items a freshly
        started process queued requests behind that for about half a second (a p99 of
        400 ms at a paced 200/s that was 26 ms a run later). No language model is asked: a
        remote one bills every call.
        """
        gate = asyncio.Semaphore(concurrency)
        request, variant = ListRequest(10), Variant(llm=False)

        async def one(user_id: str) -> None:
            async with gate:
                await self._compute(user_id, request, generation, variant)

        await asyncio.gather(*(one(u) for u in user_ids))

    async def _compute(
        self, user_id: str, request: ListRequest, generation: int | None, variant: Variant
    ) -> Result:
        now = utcnow()
        rules = [r for r in await self.rulebook.current(generation) if r.live(now)]
        history = await self.store.user_history(user_id)
        model, version = self.models.model, self.models.version
        if variant.model is not None:
            model, version = variant.model, variant.model_version
        positives = {i: w for i, w in history.weights.items() if w > 0}
        if model is not None and positives:
            pool = await self._personalized(model, version, history, request, generation, now)
            if pool.items:
                items, pending = await self._rescore(
                    user_id, history, pool.items, generation, variant
                )
                final = await self._shape(pool, items, request, rules, now)
                provider = self._provider(final)
                ttl = await self._ttl(final, pool, rules, now)
                return Result(user_id, final, version, provider, True, pending, ttl)
        pool = await self._popular_and_fresh(model, history, request, generation, now)
        final = await self._shape(pool, pool.items, request, rules, now)
        return Result(
            user_id,
            final,
            version,
            None,
            False,
            ttl_seconds=await self._ttl(final, pool, rules, now),
        )

    def _pool_size(self, request: ListRequest) -> int:
        """Candidates retrieved for a list: more when diversity or a cap will pass some over."""
        wide = request.diversity > 0 or request.max_per_category is not None
        return max(request.limit * (10 if wide else 5), 200 if wide else 50)

    async def _personalized(
        self,
        model: Recommender,
        version: str | None,
        history: History,
        request: ListRequest,
        generation: int | None,
        now: datetime,
    ) -> Pool:
        filters = request.filters
        allowed, columns = await self.columns.mask(model, filters, generation, now)
        skip = set(history.weights) | filters.exclude
        ranked = model.recommend(history.weights, self._pool_size(request), skip, allowed)
        contents = await self.catalog.get_many(
            [i for i, _ in ranked] + history.recent_positive, generation
        )
        # The columns may trail a write by a moment: each candidate is checked on its own row.
        ranked = [(i, s) for i, s in ranked if i in contents and filters.allows(contents[i], now)]
        pool = Pool([], contents, model, history, skip, allowed, columns, generation, version)
        if not ranked:
            return pool
        wide = request.diversity > 0 or request.max_per_category is not None
        ranked = ranked if wide else ranked[: max(request.limit * 3, self.llm_top_k)]
        pool.items = self._explained(model, version, history, ranked, contents)
        return pool

    def _explained(
        self,
        model: Recommender,
        version: str | None,
        history: History,
        ranked: list[tuple[str, float]],
        contents: dict[str, Content],
    ) -> list[Recommendation]:
        normalized = _normalize([s for _, s in ranked])
        because = self.explainer.anchors(
            model, version, history.recent_positive, [i for i, _ in ranked]
        )
        out = []
        for (item_id, _), ml in zip(ranked, normalized, strict=True):
            content = contents[item_id]
            source_id = because.get(item_id)
            reason = (
                f"Because you liked {contents[source_id].title}"
                if source_id and source_id in contents
                else f"Matches your interest in {content.category}"
            )
            out.append(_item(content, ml, reason, "model"))
        return out

    async def _shape(
        self,
        pool: Pool,
        items: list[Recommendation],
        request: ListRequest,
        rules: Sequence[Rule],
        now: datetime,
    ) -> list[Recommendation]:
        """Boosts, diversity and the category cap, reserved slots, then pins."""
        limit, cap = request.limit, request.max_per_category
        ranked = boost(items, rules, pool.contents)
        vectors = None
        if request.diversity > 0 and pool.model is not None:
            vectors = pool.model.item_vectors([i.content_id for i in ranked])
        items = rerank(ranked, limit, request.diversity, cap, vectors)

        def fits(listed: list[Recommendation], item: Recommendation) -> bool:
            return cap is None or sum(i.category == item.category for i in listed) < cap

        items = await self._filled(pool, items, ranked, request, fits, now)
        shares: list[Share] = []
        for rule in rules:
            if rule.kind == "reserve" and rule.expression is not None:
                candidates = await self._matching(pool, request, rule, limit)
                items, share = reserve(items, limit, rule, candidates, fits, shares)
                shares.append(share)
        pinned: set[str] = set()
        for rule in rules:
            # An item the user already interacted with never comes back, pinned or not.
            if rule.kind != "pin" or rule.content_id is None or rule.content_id in pool.skip:
                continue
            found = await self.catalog.get_many([rule.content_id], pool.generation)
            content = found.get(rule.content_id)
            if content is None or not request.filters.allows(content, now):
                continue
            pool.contents[content.content_id] = content
            top = max((i.score for i in items), default=1.0)
            chosen = _item(content, top, rule.reason, "rule")
            items = pin(items, limit, rule, chosen, shares, pinned)
            pinned.add(content.content_id)
        if not pinned:
            return items
        items = capped(items, cap, pinned, shares)
        return await self._filled(pool, items, ranked, request, fits, now)

    async def _filled(
        self,
        pool: Pool,
        items: list[Recommendation],
        ranked: list[Recommendation],
        request: ListRequest,
        fits: Callable[[list[Recommendation], Recommendation], bool],
        now: datetime,
    ) -> list[Recommendation]:
        """`items` topped up to the limit from the pool, then, under a category cap, from the
        categories the list has not filled, until full or none has an item left to give;
        then from the most popular items the request's mask passes (`_topped_up`)."""
        limit, cap = request.limit, request.max_per_category
        items = _refilled(items, ranked, limit, fits)
        while cap is not None and len(items) < limit:
            more = await self._unfilled_categories(pool, items, request, cap, now)
            filled = _refilled(items, more, limit, fits)
            if len(filled) == len(items):
                break
            items = filled
        return await self._topped_up(pool, items, request, fits, now)

    async def _topped_up(
        self,
        pool: Pool,
        items: list[Recommendation],
        request: ListRequest,
        fits: Callable[[list[Recommendation], Recommendation], bool],
        now: datetime,
    ) -> list[Recommendation]:
        """`items` topped up with the most popular items the request's mask passes.

        A filter the pool's candidates barely meet (old items outside the model's candidates,
        a `created_at` range) left lists short, or empty; these come after every candidate,
        within the same exclusions and, under a category cap, from the categories not full.
        """
        limit, columns = request.limit, pool.columns
        if pool.model is None or pool.allowed is None or columns is None:
            return items
        while len(items) < limit:
            allowed = await self._open_categories(pool, items, request.max_per_category, now)
            skip = set(pool.skip) | {i.content_id for i in items}
            popular = await self.passing.popular(
                columns,
                allowed,
                skip,
                limit - len(items),
                lambda c: request.filters.allows(c, now),
                pool.generation,
            )
            pool.contents.update({c.content_id: c for c, _ in popular})
            more = [_item(c, 0.0, _popular_reason(c), "popular") for c, _ in popular]
            filled = _refilled(items, more, limit, fits)
            if len(filled) == len(items):
                break
            items = filled
        return items

    async def _open_categories(
        self, pool: Pool, items: list[Recommendation], cap: int | None, now: datetime
    ) -> ItemMask:
        """The pool's mask less the categories `items` has filled up to `cap`."""
        assert pool.model is not None and pool.allowed is not None
        if cap is None:
            return pool.allowed
        full = tuple(c for c, n in Counter(i.category for i in items).items() if n >= cap)
        if not full:
            return pool.allowed
        others = Filters(exclude_categories=full)
        allowed, _ = await self.columns.mask(pool.model, others, pool.generation, now)
        return allowed & pool.allowed

    async def _unfilled_categories(
        self, pool: Pool, items: list[Recommendation], request: ListRequest, cap: int, now: datetime
    ) -> list[Recommendation]:
        """This user's best items of the categories the list has not filled up to `cap`.

        A user's pool may hold only the few categories their taste is in: capped, it left the
        list short (9 of 10 at a cap of 3) though every other category had items to give.
        """
        if pool.model is None or pool.history is None or pool.allowed is None:
            return []
        allowed = await self._open_categories(pool, items, cap, now)
        skip = set(pool.skip) | {i.content_id for i in items}
        want = self._pool_size(request)
        ranked = pool.model.recommend(pool.history.weights, want, skip, allowed)
        contents = await self.catalog.get_many([i for i, _ in ranked], pool.generation)
        ranked = [
            (i, s) for i, s in ranked if i in contents and request.filters.allows(contents[i], now)
        ]
        pool.contents.update(contents)
        return self._explained(pool.model, pool.version, pool.history, ranked, pool.contents)

    async def _matching(
        self, pool: Pool, request: ListRequest, rule: Rule, limit: int
    ) -> list[Recommendation]:
        """Items a reserve rule may promote into this list, best first for this user."""
        expr = rule.expression
        assert expr is not None
        want = limit * 3
        inside = [
            i for i in pool.items if (c := pool.contents.get(i.content_id)) and matches(expr, c)
        ]
        if len(inside) >= want:
            return inside
        now = utcnow()
        by_rule = None
        if pool.model is not None and pool.allowed is not None:
            rule_only = Filters(expression=rule.filter)
            by_rule, _ = await self.columns.mask(pool.model, rule_only, pool.generation, now)
            by_rule = by_rule & pool.allowed
        if pool.model is not None and pool.history is not None and by_rule is not None:
            allowed = by_rule
            ranked = pool.model.recommend(pool.history.weights, want, pool.skip, allowed)
            contents = await self.catalog.get_many([i for i, _ in ranked], pool.generation)
            ranked = [
                (i, s)
                for i, s in ranked
                if i in contents and request.filters.allows(contents[i], now)
            ]
            scores = _normalize([s for _, s in ranked])
            pool.contents.update(contents)
            return [
                _item(contents[i], s, rule.reason, "rule")
                for (i, _), s in zip(ranked, scores, strict=True)
            ]
        if by_rule is not None and pool.columns is not None:
            popular = await self.passing.popular(
                pool.columns,
                by_rule,
                pool.skip,
                want,
                lambda c: request.filters.allows(c, now) and matches(expr, c),
                pool.generation,
            )
        else:  # no model yet: no columns to rank, the listing is paged
            categories = request.filters.categories
            popular = await _collect(
                lambda n, at: self.store.popular_content(n, categories, at),
                lambda pair: pair[0],
                want,
                pool.skip,
                request.filters,
                now,
                expr,
            )
        top = max((s for _, s in popular), default=1.0) or 1.0
        pool.contents.update({c.content_id: c for c, _ in popular})
        return [_item(c, s / top, rule.reason, "rule") for c, s in popular]

    async def _ttl(
        self, items: list[Recommendation], pool: Pool, rules: Sequence[Rule], now: datetime
    ) -> float | None:
        """How long the list may be cached: until one of its items' windows closes, any
        item's window opens (the list may now take it) or a rule starts or ends."""
        bounds: list[float | None] = [
            (c.available_until - now).total_seconds()
            for i in items
            if (c := pool.contents.get(i.content_id)) is not None and c.available_until is not None
        ]
        bounds.append(next_change(rules, now))
        if pool.model is not None:
            columns = pool.columns  # brought up to date by this request's mask, if it took one
            if columns is None:
                columns = await self.columns.columns(pool.model, pool.generation)
            bounds.append(columns.next_opening(now))
        soonest = min((b for b in bounds if b is not None), default=None)
        return None if soonest is None else max(soonest, 0.0)

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
        variant: Variant = DEFAULT,
    ) -> tuple[list[Recommendation], bool]:
        """Blend in language-model scores; also says whether any top candidate lacked one."""
        if self.rescorer is None or self.llm_top_k == 0 or not variant.llm:
            return items, False
        ml_weight = self.ml_weight if variant.ml_weight is None else variant.ml_weight
        user, candidates = await self._llm_inputs(
            user_id, history, items[: self.llm_top_k], generation
        )
        scores = await self.rescorer.score_within_budget(user, candidates)
        pending = any(c.content_id not in scores for c in candidates)
        blended = []
        for item in items:
            llm = scores.get(item.content_id)
            if llm is not None:  # an item without one keeps its ML score and reason as they are
                b = mix_scores(item.ml_score, llm, ml_weight, item.reason)
                item = replace(item, score=b.score, llm_score=b.llm_score, reason=b.reason)
            blended.append(item)
        return sorted(blended, key=lambda r: r.score, reverse=True), pending

    async def precompute_llm(self, user_id: str) -> int:
        """Score this user's likely candidates ahead of their next request; returns how many."""
        if self.rescorer is None or self.llm_top_k == 0 or self.models.model is None:
            return 0
        history = await self.store.user_history(user_id)
        if not any(w > 0 for w in history.weights.values()):
            return 0
        model, version = self.models.model, self.models.version
        request = ListRequest(self.llm_top_k)
        pool = await self._personalized(model, version, history, request, None, utcnow())
        head = pool.items[: self.llm_top_k]
        user, candidates = await self._llm_inputs(user_id, history, head, None)
        await self.rescorer.precompute(user, candidates)
        return len(candidates)

    def _provider(self, items: list[Recommendation]) -> str | None:
        if self.rescorer is None or all(i.llm_score is None for i in items):
            return None
        return f"{self.rescorer.provider}:{self.rescorer.model}"

    async def _popular_and_fresh(
        self,
        model: Recommender | None,
        history: History,
        request: ListRequest,
        generation: int | None,
        now: datetime,
    ) -> Pool:
        """Popular items with a share of new ones, for users the model cannot rank yet."""
        limit, filters = request.limit, request.filters
        skip = set(history.weights) | filters.exclude
        wide = request.diversity > 0 or request.max_per_category is not None
        want = self._pool_size(request) if wide else limit
        allowed = columns = None
        if model is not None:  # the columns' availability mask, cached: cheap unfiltered
            allowed, columns = await self.columns.mask(model, filters, generation, now)
        if allowed is not None and columns is not None and filters.expr is not None:
            # Ranked from the mask: paged listings met a selective filter's items late or never.
            def check(content: Content) -> bool:
                return filters.allows(content, now)

            popular = await self.passing.popular(columns, allowed, skip, want, check, generation)
            fresh = await self.passing.newest(columns, allowed, skip, want, check, generation)
        else:  # unfiltered, or no model yet (no columns): the listings are paged
            categories = filters.categories
            popular = await _collect(
                lambda n, at: self.store.popular_content(n, categories, at),
                lambda pair: pair[0],
                want,
                skip,
                filters,
                now,
            )
            fresh = await _collect(
                lambda n, at: self.store.fresh_content(n, categories, at),
                lambda c: c,
                want,
                skip,
                filters,
                now,
            )
        n_fresh = max(1, round(limit * FRESH_SHARE)) if fresh else 0
        top = max((s for _, s in popular), default=1.0) or 1.0
        items = [_item(c, s / top, _popular_reason(c), "popular") for c, s in popular]
        items = items[: want - min(n_fresh, len(fresh))]
        seen = {i.content_id for i in items}
        for content in fresh:
            if len(items) >= want:
                break
            if content.content_id not in seen:
                seen.add(content.content_id)
                items.append(_item(content, 0.5, f"New in {content.category}", "fresh"))
        contents = {c.content_id: c for c, _ in popular} | {c.content_id: c for c in fresh}
        return Pool(items, contents, model, None, skip, allowed, columns, generation)


#: Rows read per page when a filter is applied item by item, and the most pages read.
PAGE = 200
MAX_PAGES = 25

T = TypeVar("T")


async def _collect(
    fetch: Callable[[int, int], Awaitable[Sequence[T]]],
    content_of: Callable[[T], Content],
    want: int,
    skip: Collection[str],
    filters: Filters,
    now: datetime,
    also: Expr | None = None,
) -> list[T]:
    """Rows in the query's order that the request (and `also`) allow, paging until `want`."""
    found: list[T] = []
    page = max(want + len(skip), PAGE)
    for n in range(MAX_PAGES):
        rows = await fetch(page, n * page)
        for row in rows:
            c = content_of(row)
            allowed = c.content_id not in skip and filters.allows(c, now)
            if allowed and (also is None or matches(also, c)):
                found.append(row)
        if len(found) >= want or len(rows) < page:
            break
    return found[:want]


def _refilled(
    items: list[Recommendation],
    pool: Sequence[Recommendation],
    limit: int,
    fits: Callable[[list[Recommendation], Recommendation], bool],
) -> list[Recommendation]:
    """`items` topped up to `limit` from `pool` (best first) with items not shown that fit:
    pins over a category cap push others out, and the list stays full when enough pass."""
    out = list(items)
    shown = {i.content_id for i in out}
    for item in pool:
        if len(out) >= limit:
            break
        if item.content_id not in shown and fits(out, item):
            out.append(item)
            shown.add(item.content_id)
    return out


def _popular_reason(content: Content) -> str:
    return f"Popular in {content.category} right now"


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
