"""Partial impressions: the client says which positions of an answer it actually rendered."""

from fastapi import APIRouter, status

from contextiq.api.deps import ImpressionsDep, PrincipalDep
from contextiq.api.errors import documented
from contextiq.api.experiment_schemas import ImpressionSeenAccepted, ImpressionSeenIn
from contextiq.security import Access, allow, require_user

router = APIRouter(tags=["impressions"], responses=documented(401, 403, 429, 503))


@router.post(
    "/impressions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImpressionSeenAccepted,
    dependencies=[allow(Access.OWN_WRITE)],
)
async def impression_seen(
    body: ImpressionSeenIn, impressions: ImpressionsDep, principal: PrincipalDep
) -> ImpressionSeenAccepted:
    """The impression then counts only these positions; the first report for an id counts."""
    require_user(principal, body.subject)
    await impressions.seen(body.recommendation_id, body.subject, body.positions)
    return ImpressionSeenAccepted(recommendation_id=body.recommendation_id, status="accepted")
