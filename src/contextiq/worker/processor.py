"""Applies events exactly once (interactions, deletions, merges) and decides when to retrain."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from contextiq.events.types import (
    Event,
    RetrainRequested,
    SessionMerged,
    UserDeleted,
)
from contextiq.observability.events import record_applied
from contextiq.observability.metrics import TRAINING_DURATION
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.records import Applied, TrainingCount
from contextiq.store.store import TRAINED_ON, Store

log = logging.getLogger(__name__)


def _alone() -> AbstractAsyncContextManager[bool]:
    """No other worker to leave a round to."""
    return nullcontext(True)


async def _unrecorded() -> float | None:
    """No record of rounds beyond this process's own."""
    return None


class Retrainer:
    """Retrains after N applied events or T seconds, one round at a time.

    N counts across every worker, in the store (`training_count`): each batch applied adds
    its events there, and the worker whose batch brings the count to where a round is due
    starts it. So W workers train after N events in all, not about W x N, and a restart
    keeps the count. A worker also looks every minute (`schedule`) for a round due that no
    batch started: `contextiq train` held the lock when the batch came, or the count was
    past due when a round ended (N events applied while it trained).

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
        store: Store,
        every_events: int,
        every_seconds: float,
        exclusive: Callable[[], AbstractAsyncContextManager[bool]] = _alone,
        last_round: Callable[[], Awaitable[float | None]] = _unrecorded,
    ) -> None:
        self._train = train
        self.store = store
        self._exclusive = exclusive
        self._last_round = last_round
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.last_trained_at: float | None = None
        #: When a round last failed: the time trigger counts its interval from it too, or a
        #: training failing at its save (a full volume) would start again every minute.
        self._failed_at: float | None = None
        self.training = False
        self._task: asyncio.Task[None] | None = None

    def counted(self, applied: Applied) -> None:
        """After a batch: start a round if its events brought the shared count to where one
        is due. Only the batch that crosses it does (one a round, whichever worker's), so
        the other workers' batches applied while the round runs start none."""
        count = applied.count
        if count is None or (due := self._due(count)) is None:
            return
        if count.events - applied.counted < due <= count.events:
            self._request_by_count(count)

    def _due(self, count: TrainingCount) -> int | None:
        """The shared count at which a round is due; None when no count starts one."""
        return count.due_from + self.every_events if self.every_events else None

    def _request_by_count(self, count: TrainingCount) -> None:
        self.request(f"{count.events:,} events applied since the last round")

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
        started = time.perf_counter()
        try:
            async with self._exclusive() as mine:
                if mine:
                    await self._counted_round()
                    TRAINING_DURATION.labels("completed").observe(time.perf_counter() - started)
                else:
                    # A worker's round takes off the count it started with; after another
                    # training, one still due is started by the next check (`schedule`).
                    log.info("another worker is training on every stored event: not this one")
            self.last_trained_at = time.time()
        except Exception:
            log.exception("training failed; the current model keeps serving")
            self._failed_at = time.time()
            TRAINING_DURATION.labels("failed").observe(time.perf_counter() - started)
        finally:
            self.training = False

    async def _counted_round(self) -> None:
        """Train; the shared count loses what it held at the start, and a round that fails
        keeps it and waits for as many events more (not the next batch: each round's
        whole-table counts, and its traceback, per batch)."""
        started_with = await self.store.count_next_round_from_now()
        try:
            await self._train()
        except Exception:
            try:
                await self.store.count_next_round_from_now()
            except Exception as exc:  # counted from the round's start instead
                log.warning("could not record the failed round in the training count: %s", exc)
            raise
        await self.store.round_completed(started_with)

    async def schedule(self) -> None:
        """Every minute (or `every_seconds`, if shorter): a round due by the count that no
        batch started; and the time trigger, a round when events arrived and the interval
        passed."""
        while True:
            await asyncio.sleep(min(60.0, max(1.0, self.every_seconds or 60.0)))
            if not self.every_events and not self.every_seconds:
                continue
            try:
                count = await self.store.training_count()
                if (due := self._due(count)) is not None and count.events >= due:
                    self._request_by_count(count)
                    continue
                if not self.every_seconds or count.events <= 0:
                    continue
                recorded = await self._last_round()
            except Exception as exc:  # the database is away: the next check asks again
                log.warning("could not read the training count or the last round: %s", exc)
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
        result = await self.store.apply_events(events)
        applied = result.events
        record_applied(events, applied)
        self.applied += len(applied)
        if any(isinstance(e, RetrainRequested) for e in applied):
            # One running already serves the request.
            self.retrainer.request("an admin asked (POST /models/retrain)")
        self.retrainer.counted(result)
        # Impressions change neither what a user is shown nor what the model learns from.
        fresh = [e for e in applied if isinstance(e, TRAINED_ON)]
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
        if self.users_changed is not None and users:
            self.users_changed(users)
