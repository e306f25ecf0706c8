"""GET /recommendations: personalized for known users, popular and fresh for new ones.

A hit returns the stored JSON bytes as they are: no model, database or validation work.
"""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response
from starlette.background import BackgroundTask

from contextiq.api.deps import ArmsDep, ImpressionsDep, ModelsDep, RecCacheDep, SettingsDep
from contextiq.api.errors import ApiError, documented
from contextiq.api.filters import CSV, Expression, request_filters
from contextiq.api.schemas import ModelFamily, RecommendationsResponse
from contextiq.api.subjects import SubjectDep
from contextiq.domain import subject_ids
from contextiq.experiments.impressions import listed
from contextiq.experiments.runtime import Served
from contextiq.recommend.request import ListRequest
from contextiq.security import Access, allow

router = APIRouter(tags=["recommendations"], responses=documented(401, 403, 429))
JSON = "application/json"
PENDING_TTL_SECONDS = 10.0


def _body(served: Served, cached: bool) -> bytes:
    """The answer without its `recommendation_id`: each served copy gets its own.

    Serialised straight from plain values (the fields and order of `RecommendationsResponse`,
    which documents it): building and dumping the models cost more than the rest of the
    response on an uncached answer.
    """
    result = served.result
    return orjson.dumps(
        {
            **subject_ids(result.user_id),
            "items": [
                {
                    "position": position,
                    "content_id": i.content_id,
                    "title": i.title,
                    "category": i.category,
                    "tags": list(i.tags),
                    "score": round(i.score, 4),
                    "ml_score": round(i.ml_score, 4),
                    "llm_score": None if i.llm_score is None else round(i.llm_score, 4),
                    "reason": i.reason,
                    "source": i.source,
                }
                for position, i in enumerate(result.items, start=1)
            ],
            "model_version": result.model_version,
            "llm_provider": result.llm_provider,
            "cached": cached,
            "personalized": result.personalized,
            "experiment": served.experiment,
            "arm": served.arm,
        }
    )


@router.get(
    "/recommendations",
    response_model=RecommendationsResponse,
    responses={200: {"content": {JSON: {}}}, **documented(400)},
    dependencies=[allow(Access.OWN_READ)],
)
async def recommendations(
    cache: RecCacheDep,
    models: ModelsDep,
    arms: ArmsDep,
    impressions: ImpressionsDep,
    settings: SettingsDep,
    user_id: SubjectDep,  # a user's id, or an anonymous session's subject
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    categories: CSV = None,
    exclude_categories: CSV = None,
    exclude: CSV = None,
    filter: Expression = None,
    diversity: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_per_category: Annotated[int | None, Query(ge=1, le=100)] = None,
    model_family: Annotated[ModelFamily | None, Query()] = None,
) -> Response:
    """A ranked list for the user, within the request's filters (docs/rules.md).

    `model_family` asks for that family's newest accepted version instead of the serving
    model (an "up next" shelf on `blend-next`, say), outside any experiment; 400 until one
    is trained (docs/evaluation.md, "Model families").
    """
    request = ListRequest(
        limit,
        request_filters(exclude, categories, exclude_categories, filter, category),
        settings.diversity if diversity is None else diversity,
        settings.max_per_category if max_per_category is None else max_per_category,
    )
    if model_family is not None and arms.family_version(model_family) is None:
        raise ApiError(
            400,
            "model_family_not_trained",
            f"no version of model family {model_family!r} is trained yet: add it to"
            " CONTEXTIQ_MODEL_FAMILIES (the worker trains it in its next round) or run"
            f" `contextiq train --family {model_family}`",
        )
    assignment = arms.assign(user_id, model_family)
    # Read before anything of the user's is: an erasure from here on drops this impression.
    since = impressions.since()
    found = await cache.lookup(user_id, models.version, request.cache_part(), assignment.cache_part)
    key, generation = found.key, found.catalog_generation
    if found.value is not None:
        answer = impressions.serve_cached(user_id, found.value, since)
        if answer is not None:
            return Response(answer, media_type=JSON)
    served = await arms.recommend(user_id, request, generation, assignment)
    listing = listed(served)
    keep = None
    if key is not None:
        # Without its language-model scores yet, a list is kept only until they are likely
        # ready; none outlives its items' availability or a rule's start or end.
        ttls = [
            served.result.ttl_seconds,
            PENDING_TTL_SECONDS if served.result.llm_pending else None,
        ]
        ttl = min((t for t in ttls if t is not None), default=None)
        if ttl is None or ttl > 0:
            # Stored once the answer has left: under load, waiting for the cache here made
            # every uncached answer wait its turn on the event loop once more (docs/benchmarks.md).
            # Only while the user's generation is still the one looked up: not after an
            # interaction or an erasure that came meanwhile (`RecommendationCache.put`).
            cached_body = impressions.cacheable(listing, _body(served, cached=True))
            keep = BackgroundTask(cache.put, found, cached_body, ttl)
    answer = impressions.serve(user_id, listing, _body(served, cached=False), since)
    return Response(answer, media_type=JSON, background=keep)
