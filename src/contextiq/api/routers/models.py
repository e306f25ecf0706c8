"""Model status and training history; retraining on demand for admins."""

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, status

from contextiq.api.deps import (
    ArmsDep,
    KeyRingDep,
    ModelsDep,
    RetrainerDep,
    SettingsDep,
    StoreDep,
)
from contextiq.api.errors import documented
from contextiq.api.schemas import ModelStatus, ModelVersionOut, RetrainAccepted
from contextiq.ml.registry import UNREADABLE, ModelRegistry
from contextiq.security import Access, Role, allow
from contextiq.store.records import ModelVersion
from contextiq.worker.training import request_round, training_now

router = APIRouter(tags=["models"], responses=documented(401, 403, 429))


def _out(v: ModelVersion, registry: ModelRegistry) -> ModelVersionOut:
    try:
        family = registry.info(v.version).family  # the registry's record, as the status
    except UNREADABLE:
        # Its files were removed or damaged (meta.json not JSON, or not its fields): the
        # history row stays, and the status of every other version with it.
        family = None
    return ModelVersionOut(
        version=v.version,
        created_at=v.created_at,
        status=v.status,
        family=family,
        metrics=v.metrics,
        n_users=v.n_users,
        n_items=v.n_items,
        n_interactions=v.n_interactions,
        train_seconds=v.train_seconds,
    )


def _unrecorded(version: str, registry: ModelRegistry) -> ModelVersion | None:
    """The served version as its meta.json records it, when it has no row: the process that
    promoted it died before recording it (`train_and_register` promotes first). None when
    that record cannot be read either."""
    try:
        info = registry.info(version)
    except UNREADABLE:
        return None
    return ModelVersion(
        version=version,
        created_at=datetime.fromisoformat(info.created_at),
        status="active",
        metrics=info.metrics,
        n_users=info.n_users,
        n_items=info.n_items,
        n_interactions=info.n_interactions,
        train_seconds=info.train_seconds,
    )


@router.get("/models", response_model=ModelStatus, dependencies=[allow(Access.READ)])
async def model_status(
    store: StoreDep,
    models: ModelsDep,
    arms: ArmsDep,
    retrainer: RetrainerDep,
    settings: SettingsDep,
    keys: KeyRingDep,
) -> ModelStatus:
    serving = models.version
    history = [v.as_served(serving) for v in await store.model_versions()]
    if serving is not None and all(v.version != serving for v in history):
        # No row (or one past the history's window, after a rollback): served all the same.
        found = await asyncio.to_thread(_unrecorded, serving, models.registry)
        if found is not None:
            history = sorted([*history, found], key=lambda v: v.created_at, reverse=True)
    last = retrainer.last_trained_at
    rows = await asyncio.to_thread(lambda: [_out(v, models.registry) for v in history])
    return ModelStatus(
        active=next((r for r in rows if r.version == serving), None),
        history=rows,
        families=arms.trained_families(),
        last_trained_at=(
            datetime.fromtimestamp(last, UTC)
            if last
            else (history[0].created_at if history else None)
        ),
        events_since_training=(await store.training_count()).events,
        training=await training_now(store, retrainer.training),
        # Some admin credential exists, so the web UI offers retraining.
        retrain_enabled=settings.admin_key is not None or await keys.any_active(Role.ADMIN),
    )


@router.post(
    "/models/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetrainAccepted,
    dependencies=[allow(Access.ADMIN)],
)
async def retrain(store: StoreDep, retrainer: RetrainerDep) -> RetrainAccepted:
    """Ask a worker for a training round; its model is promoted only if no worse."""
    requested = await request_round(store, retrainer.training)
    return RetrainAccepted(status="requested" if requested else "already_running")
