"""A/B and interleaving experiments: create and stop (admin), list and report (anyone)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, status

from contextiq.api.deps import ExperimentsDep
from contextiq.api.errors import ApiError, documented
from contextiq.api.experiment_schemas import (
    ExperimentIn,
    ExperimentList,
    ExperimentReport,
    ExperimentSummary,
    Name,
    StopIn,
)
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.experiments.service import InvalidExperiment, NoWinner, Unpromotable
from contextiq.security import Access, allow
from contextiq.store.experiments import ExperimentConflict

router = APIRouter(tags=["experiments"], responses=documented(401, 403, 429))
NamePath = Annotated[Name, Path()]


@router.post(
    "/experiments",
    status_code=status.HTTP_201_CREATED,
    response_model=ExperimentReport,
    dependencies=[allow(Access.ADMIN)],
    responses=documented(409),
)
async def create_experiment(body: ExperimentIn, experiments: ExperimentsDep) -> ExperimentReport:
    """Start (or schedule) an experiment; only one runs at a time (409 on an overlap)."""
    now = datetime.now(UTC)
    experiment = Experiment(
        name=body.name,
        arms=tuple(
            Arm(
                a.name,
                a.weight,
                ArmConfig(
                    a.config.ml_weight, a.config.llm, a.config.model_version, a.config.model_family
                ),
            )
            for a in body.arms
        ),
        interleaving=body.interleaving,
        starts_at=body.starts_at or now,
        ends_at=body.ends_at,
        created_at=now,
    )
    try:
        report = await experiments.create(experiment)
    except InvalidExperiment as exc:
        raise ApiError(400, "invalid_experiment", str(exc)) from exc
    except ExperimentConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    return ExperimentReport.model_validate(report)


@router.get("/experiments", response_model=ExperimentList, dependencies=[allow(Access.READ)])
async def list_experiments(experiments: ExperimentsDep) -> ExperimentList:
    return ExperimentList(
        experiments=[ExperimentSummary.model_validate(e) for e in await experiments.list()]
    )


@router.get(
    "/experiments/{name}",
    response_model=ExperimentReport,
    responses=documented(404),
    dependencies=[allow(Access.READ)],
)
async def experiment_report(name: NamePath, experiments: ExperimentsDep) -> ExperimentReport:
    """Per-arm metrics, lift against the first arm, tests, winner and verdict."""
    report = await experiments.report(name)
    if report is None:
        raise ApiError(404, "experiment_not_found", f"experiment {name!r} does not exist")
    return ExperimentReport.model_validate(report)


@router.post(
    "/experiments/{name}/stop",
    response_model=ExperimentReport,
    dependencies=[allow(Access.ADMIN)],
    responses=documented(404, 409),
)
async def stop_experiment(
    name: NamePath, experiments: ExperimentsDep, body: StopIn | None = None
) -> ExperimentReport:
    """End it now; `{"promote": true}` makes the winner's config the default (409 if none)."""
    try:
        report = await experiments.stop(name, promote=body is not None and body.promote)
    except NoWinner as exc:
        raise ApiError(409, "no_winner", str(exc)) from exc
    except Unpromotable as exc:
        raise ApiError(409, "model_unloadable", str(exc)) from exc
    if report is None:
        raise ApiError(404, "experiment_not_found", f"experiment {name!r} does not exist")
    return ExperimentReport.model_validate(report)
