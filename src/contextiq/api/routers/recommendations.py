"""GET /recommendations: personalized for known users, popular and fresh for new ones.

A hit returns the stored JSON bytes as they are: no model, database or validation work.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from contextiq.api.deps import ModelsDep, RecCacheDep, RecommendationsDep
from contextiq.api.errors import documented
from contextiq.api.schemas import Identifier, RecommendationOut, RecommendationsResponse
from contextiq.recommend.service import Result
from contextiq.security import Access, allow

router = APIRouter(tags=["recommendations"], responses=documented(401, 403, 429))
JSON = "application/json"
PENDING_TTL_SECONDS = 10.0


def _response(result: Result, cached: bool) -> RecommendationsResponse:
    return RecommendationsResponse(
        user_id=result.user_id,
        items=[
            RecommendationOut(
                content_id=i.content_id,
                title=i.title,
                category=i.category,
                tags=list(i.tags),
                score=round(i.score, 4),
                ml_score=round(i.ml_score, 4),
                llm_score=None if i.llm_score is None else round(i.llm_score, 4),
                reason=i.reason,
                source=i.source,
            )
            for i in result.items
        ],
        model_version=result.model_version,
        llm_provider=result.llm_provider,
        cached=cached,
        personalized=result.personalized,
    )


@router.get(
    "/recommendations",
    response_model=RecommendationsResponse,
    responses={200: {"content": {JSON: {}}}},
    dependencies=[allow(Access.OWN_READ)],
)
async def recommendations(
    cache: RecCacheDep,
    models: ModelsDep,
    service: RecommendationsDep,
    user_id: Annotated[Identifier, Query()],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Response:
    generation = await cache.catalog_generation()
    key = await cache.key(user_id, generation, models.version, limit, category or "")
    hit = await cache.get(key)
    if hit is not None:
        return Response(hit, media_type=JSON)
    result = await service.recommend(user_id, limit, category, generation)
    if key is not None:
        # Without its language-model scores yet, a list is kept only until they are likely ready.
        ttl = PENDING_TTL_SECONDS if result.llm_pending else None
        await cache.put(key, _response(result, cached=True).model_dump_json().encode(), ttl)
    return Response(_response(result, cached=False).model_dump_json(), media_type=JSON)
