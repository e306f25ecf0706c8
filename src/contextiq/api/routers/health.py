"""GET /health: each dependency's state; `degraded` when any is not ok."""

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from contextiq import __version__
from contextiq.api.deps import BusDep, CacheDep, ModelsDep, RelayDep, RescorerDep, StoreDep
from contextiq.api.schemas import DependencyStatus, HealthResponse
from contextiq.llm import ScoringService
from contextiq.security import Access, allow
from contextiq.security.redact import redact

router = APIRouter(tags=["health"])


async def _probe(backend: str, check: Callable[[], Awaitable[object]]) -> DependencyStatus:
    started = time.perf_counter()
    try:
        await check()
    except Exception as exc:
        return DependencyStatus(status="down", backend=backend, detail=redact(str(exc))[:200])
    latency = (time.perf_counter() - started) * 1000
    return DependencyStatus(status="ok", backend=backend, latency_ms=round(latency, 2))


def _llm_status(rescorer: ScoringService | None) -> DependencyStatus:
    if rescorer is None:
        return DependencyStatus(status="ok", backend="none", detail="ML scores only")
    health = rescorer.health()
    return DependencyStatus(
        status="ok" if health.state == "ok" else "degraded",
        backend=f"{health.provider}:{health.model}",
        detail=health.state
        if health.detail is None
        else redact(f"{health.state}: {health.detail}"),
        latency_ms=health.p50_latency_ms,
    )


@router.get("/health", response_model=HealthResponse, dependencies=[allow(Access.PUBLIC)])
async def health(
    store: StoreDep,
    cache: CacheDep,
    bus: BusDep,
    relay: RelayDep,
    models: ModelsDep,
    rescorer: RescorerDep,
) -> HealthResponse:
    deps = {
        "database": await _probe(store.backend, store.ping),
        "cache": await _probe(cache.backend, cache.ping),
        "events": await _probe(bus.backend, bus.ping),
    }
    if deps["events"].status == "ok" and not relay.healthy:
        deps["events"] = DependencyStatus(
            status="degraded", backend=bus.backend, detail="outbox relay is retrying"
        )
    if models.version is None:
        deps["model"] = DependencyStatus(
            status="degraded", backend="registry", detail="no model yet: serving popular content"
        )
    else:
        deps["model"] = DependencyStatus(
            status="degraded" if models.load_error else "ok",
            backend="registry",
            detail=models.version
            if not models.load_error
            else f"{models.version}; {models.load_error}",
        )
    deps["llm"] = _llm_status(rescorer)
    overall = "ok" if all(d.status == "ok" for d in deps.values()) else "degraded"
    return HealthResponse(status=overall, version=__version__, dependencies=deps)
