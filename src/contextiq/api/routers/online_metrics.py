"""Online metrics of what was served: counts, rates with intervals, MRR, coverage."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from contextiq.api.deps import ExperimentsDep
from contextiq.api.errors import ApiError, documented
from contextiq.api.experiment_schemas import OnlineMetricsResponse
from contextiq.security import Access, allow

router = APIRouter(tags=["metrics"], responses=documented(401, 403, 429))


@router.get(
    "/metrics/online", response_model=OnlineMetricsResponse, dependencies=[allow(Access.READ)]
)
async def online_metrics(
    experiments: ExperimentsDep,
    since: Annotated[date | None, Query(description="first day (UTC), default 29 days ago")] = None,
    until: Annotated[date | None, Query(description="last day (UTC), default today")] = None,
    by: Annotated[Literal["model_version", "arm", "day"], Query()] = "model_version",
) -> OnlineMetricsResponse:
    """From the worker's daily aggregates: fast at any number of impressions."""
    if since is not None and until is not None and since > until:
        raise ApiError(400, "bad_request", "since must not be after until")
    return OnlineMetricsResponse.model_validate(await experiments.online(by, since, until))
