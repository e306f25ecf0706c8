"""The read path's side of experiments: who is in which arm, and serving that arm's config.

Every process keeps the live experiments and the promoted defaults in memory, refreshed
every few seconds, so assigning a request costs one hash and no database round trip.
"""

import asyncio
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from contextiq.experiments.assignment import assign
from contextiq.experiments.definitions import INTERLEAVED, Arm, ArmConfig, Experiment
from contextiq.experiments.interleaving import team_draft
from contextiq.ml.base import Recommender
from contextiq.ml.families import MODEL_FAMILIES
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.request import ListRequest
from contextiq.recommend.service import RecommendationService, Result
from contextiq.recommend.variant import Variant
from contextiq.store.experiments import ExperimentStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: Experiment | None
    #: The arm's name, or "interleaved".
    arm: str | None
    #: Part of the response cache key: a user's cached list belongs to their arm.
    cache_part: str
    #: The model family the request named (outside any experiment), if it named one.
    family: str | None = None


@dataclass(frozen=True, slots=True)
class Served:
    result: Result
    experiment: str | None
    arm: str | None
    #: For an interleaved list, the arm each position came from.
    teams: tuple[str, ...] | None = None


class ExperimentRuntime:
    def __init__(
        self,
        experiments: ExperimentStore,
        models: ModelHolder,
        recommendations: RecommendationService,
    ) -> None:
        self.experiments = experiments
        self.models = models
        self.recommendations = recommendations
        self.live: list[Experiment] = []
        self.defaults = ArmConfig()
        self._default_part = "d"
        self._pinned: dict[str, Recommender] = {}
        #: Each model family's newest accepted version (None: none yet).
        self._families: dict[str, str | None] = {}

    async def refresh(self) -> None:
        live = await self.experiments.live()
        promoted = ArmConfig.from_dict(await self.experiments.promoted())
        # A promoted family is what the worker trains and promotes; the default serves the
        # active version, so a rollback (`contextiq models promote`) takes effect.
        promoted = replace(promoted, model_family=None)
        self.live = sorted(live, key=lambda e: e.starts_at)
        self.defaults = promoted
        self._default_part = "d" + json.dumps(promoted.as_dict(), sort_keys=True)
        arms = [a.config for e in live for a in e.arms]
        registry = self.models.registry
        self._families = await asyncio.to_thread(
            lambda: {f: registry.family_version(f) for f in MODEL_FAMILIES}
        )
        wanted = {c.model_version for c in [promoted, *arms] if c.model_version}
        wanted |= {v for v in self._families.values() if v}
        self._pinned = {v: m for v, m in self._pinned.items() if v in wanted}

    async def watch(self, interval_seconds: float = 2.0) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the database is away: keep the last known experiments
                log.warning("could not refresh experiments: %s", exc)
            await asyncio.sleep(interval_seconds)

    def running(self, now: datetime | None = None) -> Experiment | None:
        now = now or datetime.now(UTC)
        return next((e for e in self.live if e.status(now) == "running"), None)

    def family_version(self, family: str) -> str | None:
        """The version a request naming `family` gets (None: none trained yet)."""
        return self._families.get(family)

    def trained_families(self) -> dict[str, str]:
        """Every family a request may name now, and the version it would get."""
        return {f: v for f, v in self._families.items() if v is not None}

    def assign(self, user_id: str, family: str | None = None) -> Assignment:
        """The user's arm; a request that names a model family is outside experiments."""
        if family is not None:
            return Assignment(None, None, f"f:{family}:{self.family_version(family)}", family)
        experiment = self.running()
        if experiment is None:
            return Assignment(None, None, self._default_part)
        if experiment.interleaving:
            models = self._family_part(*experiment.arms)
            return Assignment(experiment, INTERLEAVED, f"x:{experiment.name}:{INTERLEAVED}{models}")
        arm = assign(experiment.name, user_id, [(a.name, a.weight) for a in experiment.arms])
        models = self._family_part(*(a for a in experiment.arms if a.name == arm))
        return Assignment(experiment, arm, f"x:{experiment.name}:{arm}{models}")

    def _family_part(self, *arms: Arm) -> str:
        """The versions the arms' families serve now: a retrained one gets fresh cache keys."""
        families = [a.config.model_family for a in arms if a.config.model_family]
        return "".join(f":{self.family_version(f)}" for f in families)

    async def recommend(
        self,
        user_id: str,
        request: ListRequest,
        generation: int | None,
        assignment: Assignment,
    ) -> Served:
        experiment = assignment.experiment
        if experiment is None:
            variant = await self._variant(ArmConfig(model_family=assignment.family))
            result = await self.recommendations.recommend(user_id, request, generation, variant)
            return Served(result, None, None)
        if experiment.interleaving:
            return await self._interleave(experiment, user_id, request, generation)
        arm = experiment.arm(assignment.arm or "")
        variant = await self._variant(arm.config if arm else ArmConfig())
        result = await self.recommendations.recommend(user_id, request, generation, variant)
        return Served(result, experiment.name, assignment.arm)

    async def _interleave(
        self,
        experiment: Experiment,
        user_id: str,
        request: ListRequest,
        generation: int | None,
    ) -> Served:
        first, second = experiment.arms[0], experiment.arms[1]
        limit = request.limit
        lists = [
            await self.recommendations.recommend(
                user_id, request, generation, await self._variant(arm.config)
            )
            for arm in (first, second)
        ]
        by_id = {i.content_id: i for r in reversed(lists) for i in r.items}
        drafted = team_draft(
            [i.content_id for i in lists[0].items],
            [i.content_id for i in lists[1].items],
            limit,
            (first.name, second.name),
            seed=f"{experiment.name}:{user_id}:{datetime.now(UTC).timestamp()}",
        )
        versions = dict.fromkeys(r.model_version for r in lists if r.model_version)
        result = replace(
            lists[0],
            items=[by_id[i] for i, _ in drafted],
            model_version="+".join(versions) or None,
            personalized=any(r.personalized for r in lists),
            llm_pending=any(r.llm_pending for r in lists),
            ttl_seconds=min(
                (r.ttl_seconds for r in lists if r.ttl_seconds is not None), default=None
            ),
        )
        return Served(result, experiment.name, INTERLEAVED, tuple(t for _, t in drafted))

    async def _variant(self, config: ArmConfig) -> Variant:
        effective = config.over(self.defaults)
        model = None
        version = effective.model_version
        if effective.model_family is not None:
            version = self.family_version(effective.model_family)
        if version is not None and version != self.models.version:
            model = await self._pinned_model(version)
        return Variant(
            ml_weight=effective.ml_weight,
            llm=effective.llm is not False,
            model=model,
            model_version=version if model is not None else None,
        )

    async def _pinned_model(self, version: str) -> Recommender | None:
        """A registered version other than the active one, loaded once; None if unloadable."""
        if version in self._pinned:
            return self._pinned[version]
        try:
            model = await self.models.load(version)
        except Exception as exc:
            log.warning("cannot load pinned model %s, serving the active one: %s", version, exc)
            return None
        self._pinned[version] = model
        return model
