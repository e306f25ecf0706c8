"""GET /recommendations: personalized for known users, popular and fresh for new ones."""

from typing import Annotated

from fastapi import APIRouter, Query

from contextiq.api.deps import ServicesDep
from contextiq.api.schemas import Identifier, RecommendationOut, RecommendationsResponse

router = APIRouter(tags=["recommendations"])


@router.get("/recommendations", response_model=RecommendationsResponse)
async def recommendations(
    services: ServicesDep,
    user_id: Annotated[Identifier, Query()],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> RecommendationsResponse:
    result = await services.recommender.recommend(user_id, limit, category)
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
        cached=result.cached,
        personalized=result.personalized,
    )
