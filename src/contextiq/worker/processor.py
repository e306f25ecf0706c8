"""Applies events exactly once (interactions, deletions, merges) and decides when to retrain."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from contextiq.events.types import (
    Event,
    InteractionRecorded,
    RetrainRequested,
    SessionMerged,
    UserDeleted,
)
from contextiq.observability.events import record_applied
from contextiq.observability.metrics import TRAINING_DURATION
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.store import Store

log = logging.getLogger(__name__)


def _alone() -> AbstractAsyncContextManager[bool]:
    """No other worker to leave a round to."""
    return nullcontext(True)


async def _unrecorded() -> float | None:
    """No record of rounds beyond this process's own."""
    return None


class Retrainer:
    """Retrains after N applied events or T seconds, one round at a time.

    `exclusive` (`training_turn`) makes that one round at a time across workers: each
    round reads every stored interaction, so a round started while another worker's runs
    would train the same model again beside it (memory, CPU, whole-table reads) and is
    left to that one. `last_round` (`last_round_at`) is when any process last trained: the
    time trigger counts from it, so neither another worker's round nor a restart starts the
    interval again from nothing.
    """

    def __init__(
        self,
        train: Callable[[], Awaitable[object]],
        every_events: int,
        every_seconds: float,
        exclusive: Callable[[], AbstractAsyncContextManager[bool]] = _alone,
        last_round: Callable[[], Awaitable[float | None]] = _unrecorded,
    ) -> None:
        self._train = train
        self._exclusive = exclusive
        self._last_round = last_round
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.events_since_training = 0
        #: The count that starts a round: `every_events` more after a failed one, which
        #: would otherwise be tried again with every batch applied.
        self._due_at = every_events
        self.last_trained_at: float | None = None
        #: When a round last failed: the time trigger counts its interval from it too, or a
        #: training failing at its save (a full volume) would start again every minute.
        self._failed_at: float | None = None
        self.training = False
        #: Whether this process's consumer counts events into it: an API process that does
        #: not consume (Kafka, `serve --workers`) knows no count.
        self.counting = False
        self._task: asyncio.Task[None] | None = None

    def count(self, n: int) -> None:
        self.events_since_training += n
        if self.every_events and self.events_since_training >= self._due_at:
            self.request(f"{self.events_since_training:,} events applied since the last round")

    def request(self, reason: str = "asked") -> bool:
        """Start a round in the background unless one is running; True if started. `reason`
        goes to the log: an operator sees what started a round of minutes."""
        if self.training:
            return False
        log.info("training round: %s", reason)
        self.training = True
        self._task = asyncio.create_task(self._round())
        return True

    async def _round(self) -> None:
        pending = self.events_since_training
        started = time.perf_counter()
        try:
            async with self._exclusive() as mine:
                if mine:
                    await self._train()
                    TRAINING_DURATION.labels("completed").observe(time.perf_counter() - started)
                else:
                    log.info("another worker is training on every stored event: not this one")
            self.events_since_training -= pending
            self.last_trained_at = time.time()
            self._due_at = self.every_events
        except Exception:
            log.exception("training failed; the current model keeps serving")
            self._due_at = self.events_since_training + self.every_events
            self._failed_at = time.time()
            TRAINING_DURATION.labels("failed").observe(time.perf_counter() - started)
        finally:
            self.training = False

    async def schedule(self) -> None:
        """Time-based trigger: retrain when events arrived and the interval passed."""
        while True:
            await asyncio.sleep(min(60.0, max(1.0, self.every_seconds)))
            if not self.every_seconds or self.events_since_training <= 0:
                continue
            try:
                recorded = await self._last_round()
            except Exception as exc:  # the database is away: the next check asks again
                log.warning("could not read when a model was last trained: %s", exc)
                continue
            tried = (self.last_trained_at, recorded, self._failed_at)
            last = max((t for t in tried if t is not None), default=None)
            if last is None or time.time() - last >= self.every_seconds:
                self.request(f"{self.every_seconds:,} s since the last round, with new events")


class EventProcessor:
    """The consumer's handler: stats, cache invalidation, retrain triggers (counts, and an
    admin's request), LLM precompute."""

    def __init__(
        self,
        store: Store,
        cache: RecommendationCache,
        retrainer: Retrainer,
        users_changed: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.retrainer = retrainer
        self.users_changed = users_changed
        self.applied = 0

    async def handle(self, events: list[Event]) -> None:
        applied = (await self.store.apply_events(events)).events
        record_applied(events, applied)
        self.applied += len(applied)
        if any(isinstance(e, RetrainRequested) for e in applied):
            # One running already serves the request.
            self.retrainer.request("an admin asked (POST /models/retrain)")
        # Impressions change neither what a user is shown nor what the model learns from.
        fresh = [
            e for e in applied if isinstance(e, InteractionRecorded | UserDeleted | SessionMerged)
        ]
        if not fresh:
            return
        erased = {e.user_id for e in fresh if isinstance(e, UserDeleted)}
        merged_into = {e.user_id for e in fresh if isinstance(e, SessionMerged)}
        users = ({e.key for e in fresh} | merged_into) - erased
        if erased:
            # The store forgot them in `apply_events`; the next trained model will too.
            try:
                await self.cache.forget_users(erased)
            except Exception as exc:  # a redelivery would not retry it: the events are applied
                log.warning("could not erase %d users' cached lists: %s", len(erased), exc)
        await self.cache.invalidate_users(users)
        self.retrainer.count(len(fresh))
        if self.users_changed is not None and users:
            self.users_changed(users)
