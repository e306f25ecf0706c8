"""Builds every component from settings and runs the background tasks of one process."""

import asyncio
import contextlib
import functools
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from contextiq import heap
from contextiq.backends import scheme
from contextiq.cache import Cache, open_cache
from contextiq.cache.unshared import hold_while_running
from contextiq.catalog import CatalogService
from contextiq.config import Settings
from contextiq.domain import Interaction
from contextiq.events import EventBus, open_bus
from contextiq.events.relay import OutboxRelay
from contextiq.experiments.impressions import ImpressionRecorder
from contextiq.experiments.report import Thresholds
from contextiq.experiments.runtime import ExperimentRuntime
from contextiq.experiments.service import ExperimentService
from contextiq.interactions import InteractionService
from contextiq.llm import ScoringService, build_scoring_service
from contextiq.llm.factory import item_vectors
from contextiq.llm.item_vectors import ItemVectors
from contextiq.observability.metrics import process_exited
from contextiq.observability.sampler import MetricsSampler
from contextiq.privacy import UserDataService
from contextiq.recommend.catalog import Catalog
from contextiq.recommend.filters import FilterColumns
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.precompute import LLMPrecomputer
from contextiq.recommend.promotions import RuleBook
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.recommend.service import RecommendationService
from contextiq.recommend.snapshots import SnapshotRecorder
from contextiq.rules.service import RuleService
from contextiq.security import AuditLog, Gate, KeyRing
from contextiq.security.rate_limit import RateLimits
from contextiq.security.tokens import TokenVerifier
from contextiq.sessions import SessionService
from contextiq.store.dead_letters import DeadLetterStore
from contextiq.store.experiments import ExperimentStore
from contextiq.store.group_commit import GroupCommitWriter
from contextiq.store.page_cache import keep_cached, read_if_they_fit
from contextiq.store.rules import RuleStore
from contextiq.store.session_retention import SESSION_PURGE_EVERY, SessionRetention
from contextiq.store.store import Store
from contextiq.worker.dead_letters import DeadLetterGuard
from contextiq.worker.dedupe_purge import PURGE_EVERY, purge_processed
from contextiq.worker.parked_sweep import SWEEP_EVERY, sweep_parked
from contextiq.worker.periodic import repeat
from contextiq.worker.processor import EventProcessor, Retrainer
from contextiq.worker.training import last_round_at, training_round, training_turn

#: Users whose lists a serving process computes at start (`RecommendationService.warm_up`).
WARM_UP_USERS = 256


@dataclass
class Services:
    settings: Settings
    store: Store
    cache: Cache
    rec_cache: RecommendationCache
    bus: EventBus
    relay: OutboxRelay
    models: ModelHolder
    retrainer: Retrainer
    processor: EventProcessor
    snapshots: SnapshotRecorder
    catalog: Catalog
    catalog_service: CatalogService
    writer: GroupCommitWriter
    interaction_service: InteractionService
    recommendations: RecommendationService
    rescorer: ScoringService | None
    precomputer: LLMPrecomputer | None
    gate: Gate
    audit: AuditLog
    user_data: UserDataService
    sessions: SessionService
    impressions: ImpressionRecorder
    arms: ExperimentRuntime
    experiments: ExperimentService
    rules: RuleService
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: Stored item vectors (`local://` only): the worker completes the missing ones.
    vectors: ItemVectors | None = None

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def start(self, *, relay: bool, consume: bool, serves_requests: bool) -> None:
        """Start this process's share of the work (API, worker, or both embedded).

        Every process follows the model registry, the catalogue and the experiments; only one
        that `serves_requests` warms up and settles its heap for them (`_ready_model`).
        """
        if self.store.dialect == "postgresql" and scheme(self.settings.cache_url) == "memory":
            self.spawn(hold_while_running(self.store.engine), "unshared-cache-check")
        await self.models.refresh()
        await self.arms.refresh()
        self.spawn(self.writer.run(), "group-commit")
        self.spawn(self.snapshots.run(), "snapshots")
        if relay:
            self.spawn(self.relay.run(), "outbox-relay")
        if self.rescorer is not None:
            self.spawn(self.rescorer.warm_up(), "llm-warm-up")
        if consume:
            if self.precomputer is not None:
                self.spawn(self.precomputer.run(), "llm-precompute")
            letters = DeadLetterStore(self.store)
            after = self.settings.dead_letter_after_failures
            handle = DeadLetterGuard(self.processor.handle, letters, after)
            self.spawn(self.bus.consume(handle), "consumer")
            self.spawn(self.retrainer.schedule(), "retrain-schedule")
            wait = timedelta(seconds=self.settings.attribution_wait_seconds)
            sweep = functools.partial(sweep_parked, self.store, wait)
            self.spawn(repeat(sweep, SWEEP_EVERY, "parked report sweep"), "parked-reports")
            if (days := self.settings.session_retention_days) > 0:
                idle = SessionRetention(self.store, timedelta(days=days)).purge_idle
                self.spawn(repeat(idle, SESSION_PURGE_EVERY, "session purge"), "session-retention")
            if (days := self.settings.dedupe_window_days) > 0:
                purge = functools.partial(purge_processed, self.store, timedelta(days=days))
                self.spawn(repeat(purge, PURGE_EVERY, "dedupe purge"), "dedupe-purge")
            if self.vectors is not None:
                self.spawn(self.vectors.backfill(), "item-vectors")
        await self._keep_files_cached(relay, serves_requests)
        ready = functools.partial(self._ready_model, serves_requests)
        await ready()
        self.spawn(self.models.watch(on_swap=ready), "model-watch")
        self.spawn(self.catalog_service.watch(), "catalogue-watch")
        self.spawn(self.arms.watch(), "experiments-watch")
        if self.settings.metrics_enabled:
            interval = self.settings.metrics_sample_seconds
            sampler = MetricsSampler(self.store, self.models, self.rescorer, interval)
            self.spawn(sampler.run(), "metrics-sampler")

    def _files_to_keep(self) -> list[Path]:
        sqlite = self.store.sqlite_file
        return ([] if sqlite is None else [sqlite]) + self.models.files

    async def _keep_files_cached(self, relay: bool, serves_requests: bool) -> None:
        """A request process reads the SQLite file and the model's files once before it
        serves; the relay's process reads them again every `every` seconds from then on
        (`store/page_cache.py`)."""
        every = self.settings.keep_cached_seconds
        if every <= 0:
            return
        if serves_requests:
            await read_if_they_fit(self._files_to_keep())
        if relay:
            self.spawn(keep_cached(self._files_to_keep, every), "page-cache")

    async def _ready_model(self, serves_requests: bool) -> None:
        """Ready a (new) model before anything needs it: its catalogue columns, built from
        every item (seconds at 100,000 items; later writes only patch them). A process that
        serves requests then warms up on some users (`warm_up`) and settles its heap; a
        worker has no request to keep waiting for either.
        """
        model = self.models.model
        if model is None:
            return
        generation = await self.rec_cache.catalog_generation()
        await self.recommendations.columns.columns(model, generation)
        if serves_requests:
            users = await self.store.some_users(WARM_UP_USERS)
            await self.recommendations.warm_up(users, generation)
            heap.settle()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        await self.bus.close()
        await self.cache.close()
        if self.rescorer is not None:
            await self.rescorer.close()
        await self.store.close()
        process_exited()


def build_services(settings: Settings) -> Services:
    store = Store(settings.database_url, attribution_window_hours=settings.attribution_window_hours)
    cache = open_cache(settings.cache_url, settings.cache_max_users)
    vectors = item_vectors(settings.llm_url, store, background=True)
    rescorer = build_scoring_service(
        settings.llm_url, settings.llm_api_key, cache, settings.llm_budget_ms, vectors
    )
    rec_cache = RecommendationCache(cache, settings.cache_ttl_seconds)
    bus = open_bus(settings.events_url)
    models = ModelHolder(settings.model_dir, store, settings.ann_min_items)
    retrainer = Retrainer(
        lambda: training_round(
            store,
            models,
            settings.model,
            settings.train_memory_limit_mb,
            settings.model_families,
            settings.training_window_days,
        ),
        store,
        settings.retrain_every_events,
        settings.retrain_every_seconds,
        lambda: training_turn(store),
        lambda: last_round_at(store),
    )
    relay = OutboxRelay(store, bus)

    async def after_write(items: Sequence[Interaction]) -> None:
        """A user's next read must not come from before this write; the relay sends it now.

        A group of impressions only waits for the relay's next poll (or the next
        interaction), so one claim, publish and apply carries many groups.
        """
        if items:
            await rec_cache.invalidate_users({i.user_id for i in items})
            relay.nudge()

    writer = GroupCommitWriter(store, after_write)
    snapshots = SnapshotRecorder(store, writer)
    catalog = Catalog(store)
    columns = FilterColumns(store)
    rules = RuleStore(store)
    rulebook = RuleBook(rules)
    recommendations = RecommendationService(
        store,
        catalog,
        models,
        snapshots,
        rescorer,
        settings.ml_weight,
        settings.llm_top_k,
        columns,
        rulebook,
    )
    keeps = rescorer is not None and rescorer.keeps_scores
    precomputer = LLMPrecomputer(recommendations) if keeps else None
    gate = Gate(
        settings,
        KeyRing(store, settings.key_cache_seconds),
        TokenVerifier.from_settings(settings),
        RateLimits(settings.rate_limit, settings.rate_limit_per_ip, settings.cache_url),
    )
    experiment_store = ExperimentStore(store)
    arms = ExperimentRuntime(experiment_store, models, recommendations)
    thresholds = Thresholds(
        settings.experiment_min_impressions,
        settings.experiment_min_interleaved,
        settings.experiment_alpha,
        settings.experiment_min_users,
    )
    processor = EventProcessor(
        store, rec_cache, retrainer, precomputer.enqueue if precomputer else None
    )
    return Services(
        settings=settings,
        store=store,
        cache=cache,
        rec_cache=rec_cache,
        bus=bus,
        relay=relay,
        models=models,
        retrainer=retrainer,
        processor=processor,
        snapshots=snapshots,
        catalog=catalog,
        catalog_service=CatalogService(store, models, rec_cache, columns, vectors),
        rules=RuleService(rules, rec_cache, rulebook),
        vectors=vectors,
        writer=writer,
        interaction_service=InteractionService(store, catalog, rec_cache, writer),
        recommendations=recommendations,
        rescorer=rescorer,
        precomputer=precomputer,
        gate=gate,
        audit=AuditLog(store),
        user_data=UserDataService(store, catalog, rec_cache, snapshots, relay, rescorer, writer),
        sessions=SessionService(store, rec_cache, relay),
        impressions=ImpressionRecorder(writer, settings.record_impressions),
        arms=arms,
        experiments=ExperimentService(store, experiment_store, arms, models, thresholds),
    )
