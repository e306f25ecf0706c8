"""Partial impressions: the client says which positions of an answer it actually rendered."""

from fastapi import APIRouter, status

from contextiq.api.deps import ServicesDep, WriteAccess
from contextiq.api.errors import documented
from contextiq.api.experiment_schemas import ImpressionSeenAccepted, ImpressionSeenIn

router = APIRouter(tags=["impressions"], responses=documented(401), dependencies=[WriteAccess])


@router.post(
    "/impressions", status_code=status.HTTP_202_ACCEPTED, response_model=ImpressionSeenAccepted
)
async def impression_seen(body: ImpressionSeenIn, services: ServicesDep) -> ImpressionSeenAccepted:
    """The impression then counts only these positions; the first report for an id counts."""
    await services.impressions.seen(body.recommendation_id, body.user_id, body.positions)
    return ImpressionSeenAccepted(recommendation_id=body.recommendation_id, status="accepted")
