"""Model status and training history; retraining on demand for admins."""

from datetime import UTC, datetime

from fastapi import APIRouter, status

from contextiq.api.deps import KeyRingDep, ModelsDep, RetrainerDep, SettingsDep, StoreDep
from contextiq.api.errors import documented
from contextiq.api.schemas import ModelStatus, ModelVersionOut, RetrainAccepted
from contextiq.security import Access, Role, allow
from contextiq.store.records import ModelVersion

router = APIRouter(tags=["models"], responses=documented(401, 403, 429))


def _out(v: ModelVersion) -> ModelVersionOut:
    return ModelVersionOut(
        version=v.version,
        created_at=v.created_at,
        status=v.status,
        metrics=v.metrics,
        n_users=v.n_users,
        n_items=v.n_items,
        n_interactions=v.n_interactions,
        train_seconds=v.train_seconds,
    )


@router.get("/models", response_model=ModelStatus, dependencies=[allow(Access.READ)])
async def model_status(
    store: StoreDep,
    models: ModelsDep,
    retrainer: RetrainerDep,
    settings: SettingsDep,
    keys: KeyRingDep,
) -> ModelStatus:
    serving = models.version
    history = [v.as_served(serving) for v in await store.model_versions()]
    active = next((v for v in history if v.version == serving), None)
    last = retrainer.last_trained_at
    return ModelStatus(
        active=_out(active) if active else None,
        history=[_out(v) for v in history],
        last_trained_at=(
            datetime.fromtimestamp(last, UTC)
            if last
            else (history[0].created_at if history else None)
        ),
        events_since_training=retrainer.events_since_training,
        training=retrainer.training,
        # Some admin credential exists, so the web UI offers retraining.
        retrain_enabled=settings.admin_key is not None or await keys.any_active(Role.ADMIN),
    )


@router.post(
    "/models/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetrainAccepted,
    dependencies=[allow(Access.ADMIN)],
)
async def retrain(retrainer: RetrainerDep) -> RetrainAccepted:
    """Start a training round in the background; it is promoted only if no worse."""
    started = retrainer.request()
    return RetrainAccepted(status="started" if started else "already_running")
