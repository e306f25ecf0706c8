"""Request dependencies: one per component a route needs, never the whole `Services`.

A route names what it touches (`store: StoreDep`), as the FastAPI full-stack template does, so
its reach is visible in its signature. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, a hop per request.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from contextiq.cache import Cache
from contextiq.catalog import CatalogService
from contextiq.config import Settings
from contextiq.events import EventBus
from contextiq.events.relay import OutboxRelay
from contextiq.experiments.impressions import ImpressionRecorder
from contextiq.experiments.runtime import ExperimentRuntime
from contextiq.experiments.service import ExperimentService
from contextiq.interactions import InteractionService
from contextiq.llm import ScoringService
from contextiq.privacy import UserDataService
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.recommend.service import RecommendationService
from contextiq.rules.service import RuleService
from contextiq.security import AuditLog, KeyRing, Principal
from contextiq.security.access import current_principal
from contextiq.services import Services
from contextiq.sessions import SessionService
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
ArmsDep = Annotated[ExperimentRuntime, Depends(_component(lambda s: s.arms))]
ImpressionsDep = Annotated[ImpressionRecorder, Depends(_component(lambda s: s.impressions))]
ExperimentsDep = Annotated[ExperimentService, Depends(_component(lambda s: s.experiments))]
RulesDep = Annotated[RuleService, Depends(_component(lambda s: s.rules))]
RescorerDep = Annotated[ScoringService | None, Depends(_component(lambda s: s.rescorer))]

UserDataDep = Annotated[UserDataService, Depends(_component(lambda s: s.user_data))]
SessionsDep = Annotated[SessionService, Depends(_component(lambda s: s.sessions))]
AuditLogDep = Annotated[AuditLog, Depends(_component(lambda s: s.audit))]
KeyRingDep = Annotated[KeyRing, Depends(_component(lambda s: s.gate.keys))]
#: The caller, as the route's `allow(...)` dependency authenticated them.
PrincipalDep = Annotated[Principal, Depends(current_principal)]
