"""Request dependencies: one per component a route needs, never the whole `Services`.

A route names what it touches (`store: StoreDep`), as the FastAPI full-stack template does, so
its reach is visible in its signature. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, a hop per request.
"""

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request

from contextiq.api.errors import ApiError
from contextiq.cache import Cache
from contextiq.catalog import CatalogService
from contextiq.config import Settings
from contextiq.events import EventBus
from contextiq.events.relay import OutboxRelay
from contextiq.interactions import InteractionService
from contextiq.llm import ScoringService
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.recommend.service import RecommendationService
from contextiq.services import Services
from contextiq.store.store import Store
from contextiq.worker.processor import Retrainer

T = TypeVar("T")


def services_of(request: Request) -> Services:
    """The process's components, built by the app's lifespan."""
    services: Services = request.app.state.services
    return services


def _component(pick: Callable[[Services], T]) -> Callable[[Request], Awaitable[T]]:
    async def dependency(request: Request) -> T:
        return pick(services_of(request))

    return dependency


SettingsDep = Annotated[Settings, Depends(_component(lambda s: s.settings))]
StoreDep = Annotated[Store, Depends(_component(lambda s: s.store))]
CacheDep = Annotated[Cache, Depends(_component(lambda s: s.cache))]
RecCacheDep = Annotated[RecommendationCache, Depends(_component(lambda s: s.rec_cache))]
BusDep = Annotated[EventBus, Depends(_component(lambda s: s.bus))]
RelayDep = Annotated[OutboxRelay, Depends(_component(lambda s: s.relay))]
ModelsDep = Annotated[ModelHolder, Depends(_component(lambda s: s.models))]
RetrainerDep = Annotated[Retrainer, Depends(_component(lambda s: s.retrainer))]
CatalogServiceDep = Annotated[CatalogService, Depends(_component(lambda s: s.catalog_service))]
InteractionServiceDep = Annotated[
    InteractionService, Depends(_component(lambda s: s.interaction_service))
]
RecommendationsDep = Annotated[
    RecommendationService, Depends(_component(lambda s: s.recommendations))
]
RescorerDep = Annotated[ScoringService | None, Depends(_component(lambda s: s.rescorer))]


def _check(expected: str | None, given: str | None, what: str) -> None:
    if expected is None:
        return
    if given is None or not secrets.compare_digest(expected, given):
        raise ApiError(401, "unauthorized", f"a valid {what} header is required")


async def require_api_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    """Write routes need `X-API-Key` when `CONTEXTIQ_API_KEY` is set."""
    _check(settings.api_key, x_api_key, "X-API-Key")


async def require_admin_key(
    settings: SettingsDep, x_admin_key: Annotated[str | None, Header()] = None
) -> None:
    """Admin routes are closed unless `CONTEXTIQ_ADMIN_KEY` is set and given."""
    if settings.admin_key is None:
        raise ApiError(403, "forbidden", "admin routes are disabled: set CONTEXTIQ_ADMIN_KEY")
    _check(settings.admin_key, x_admin_key, "X-Admin-Key")


WriteAccess = Depends(require_api_key)
AdminAccess = Depends(require_admin_key)
