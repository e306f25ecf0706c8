"""Online metrics of what was served: counts, rates with intervals, MRR, coverage."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from contextiq.api.deps import ServicesDep
from contextiq.api.errors import ApiError
from contextiq.api.experiment_schemas import OnlineMetricsResponse

router = APIRouter(tags=["metrics"])


@router.get("/metrics/online", response_model=OnlineMetricsResponse)
async def online_metrics(
    services: ServicesDep,
    since: Annotated[date | None, Query(description="first day (UTC), default 29 days ago")] = None,
    until: Annotated[date | None, Query(description="last day (UTC), default today")] = None,
    by: Annotated[Literal["model_version", "arm", "day"], Query()] = "model_version",
) -> OnlineMetricsResponse:
    """From the worker's daily aggregates: fast at any number of impressions."""
    if since is not None and until is not None and since > until:
        raise ApiError(400, "bad_request", "since must not be after until")
    return OnlineMetricsResponse.model_validate(await services.experiments.online(by, since, until))
