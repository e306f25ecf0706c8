"""GET /health: each dependency's state; `degraded` when any is not ok. GET /health/live:
whether the process answers at all."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from contextiq import __version__
from contextiq.api.deps import BusDep, CacheDep, ModelsDep, RelayDep, RescorerDep, StoreDep
from contextiq.api.schemas import DependencyStatus, HealthResponse, LiveResponse
from contextiq.llm import ScoringService
from contextiq.security import Access, allow
from contextiq.security.redact import redact

router = APIRouter(tags=["health"])

#: Each probe's bound: the answer leaves before a readiness probe (3 s) gives up, so a
#: dependency that does not answer shows as `down` rather than taking the replica out of
#: service. Kafka's and Redis's own bounds are shorter (2 s, 250 ms); the database's
#: connection may wait 10 s for the pool or the server.
PROBE_SECONDS = 2.5


async def _probe(backend: str, check: Callable[[], Awaitable[object]]) -> DependencyStatus:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await check()
    except TimeoutError:
        detail = f"no answer within {PROBE_SECONDS} s"
        return DependencyStatus(status="down", backend=backend, detail=detail)
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
    # The database's probe runs beside the other two, which take 2.25 s at most together;
    # one task rather than three, /health being the cheapest request there is.
    database = asyncio.ensure_future(_probe(store.backend, store.ping))
    cache_status = await _probe(cache.backend, cache.ping)
    events = await _probe(bus.backend, bus.ping)
    deps = {"database": await database, "cache": cache_status, "events": events}
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


@router.get("/health/live", response_model=LiveResponse, dependencies=[allow(Access.PUBLIC)])
async def live() -> LiveResponse:
    """What a liveness probe asks: answered on the event loop, touching no dependency, so a
    database outage restarts no replica while a blocked loop is found. A TCP probe could
    not tell: the kernel completes connections into the listen backlog while the loop stands
    still."""
    return LiveResponse(status="alive")
