"""The events that start a round are counted in the store, across every worker.

Each worker counted the events it applied in its memory: W workers on Kafka trained after
about W x `CONTEXTIQ_RETRAIN_EVERY_EVENTS` events in all, a restart began the count again
from nothing, and an API process that does not consume could not say it.
"""

import asyncio

from contextiq.cache.memory import MemoryCache
from contextiq.events.types import RetrainRequested, UserDeleted
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.records import TrainingCount
from contextiq.store.store import Store, utcnow
from contextiq.worker.processor import EventProcessor, Retrainer
from contextiq.worker.training import training_turn
from tests.conftest import stored_events, until


async def test_each_applied_event_a_model_learns_from_is_counted_once(store: Store) -> None:
    events = await stored_events(store, 3)
    erasure = UserDeleted("d-1", "u-gone", utcnow())
    applied = await store.apply_events([*events, erasure, RetrainRequested("r-1", utcnow())])
    assert applied.counted == 4  # the admin's request teaches a model nothing
    assert applied.count == TrainingCount(events=4, due_from=0)
    again = await store.apply_events(events)  # delivered again: applied, and counted, once
    assert (again.counted, again.count) == (0, None)
    assert await store.training_count() == TrainingCount(events=4, due_from=0)


async def test_a_round_takes_off_the_count_it_started_with(store: Store) -> None:
    await store.apply_events(await stored_events(store, 5))
    assert await store.count_next_round_from_now() == 5
    during = await store.apply_events(await stored_events(store, 2, first=5))
    assert during.count == TrainingCount(events=7, due_from=5)
    await store.round_completed(5)
    # The two applied while it trained stay counted for the next.
    assert await store.training_count() == TrainingCount(events=2, due_from=0)


async def test_a_completion_recorded_again_takes_its_count_off_once(store: Store) -> None:
    """A retry after a reply lost on the way, the commit landed: old code subtracted twice."""
    await store.apply_events(await stored_events(store, 5))
    started_with = await store.count_next_round_from_now()
    await store.apply_events(await stored_events(store, 2, first=5))
    await store.round_completed(started_with)
    await store.round_completed(started_with)
    assert await store.training_count() == TrainingCount(events=2, due_from=0)


async def test_a_round_started_since_takes_the_count_off_alone(store: Store) -> None:
    """A worker lost its lock with its connection and another round began: the first round's
    completion leaves the count to the second, which learnt from the same events. Old code
    took both counts off (events -5)."""
    await store.apply_events(await stored_events(store, 5))
    first = await store.count_next_round_from_now()
    await store.apply_events(await stored_events(store, 2, first=5))
    second = await store.count_next_round_from_now()
    await store.round_completed(first)
    assert await store.training_count() == TrainingCount(events=7, due_from=7)
    await store.round_completed(second)
    assert await store.training_count() == TrainingCount(events=0, due_from=0)


def _worker(store: Store, rounds: list[str], name: str, release: asyncio.Event) -> EventProcessor:
    """A consuming worker's processor, retraining every 10 events; its rounds append `name`
    to `rounds` and wait for `release`."""

    async def train() -> None:
        rounds.append(name)
        await release.wait()

    retrainer = Retrainer(train, store, 10, 0, lambda: training_turn(store))
    return EventProcessor(store, RecommendationCache(MemoryCache(), 60), retrainer)


async def _settled(*workers: EventProcessor) -> None:
    for worker in workers:
        if worker.retrainer._task is not None:
            await worker.retrainer._task


async def test_two_workers_start_one_round_after_n_events_in_all(migrated_url: str) -> None:
    """Old code: 6 events each, no round (each counted its own to 10)."""
    stores = Store(migrated_url), Store(migrated_url)  # two processes
    try:
        rounds: list[str] = []
        release = asyncio.Event()
        a, b = (_worker(s, rounds, name, release) for s, name in zip(stores, "ab", strict=True))
        events = await stored_events(stores[0], 16)
        await a.handle(events[:6])
        await b.handle(events[6:12])  # 12 in all: B's batch brought the count past 10
        await until(lambda: rounds == ["b"])
        # While it trains, the batches past 10 start none (nor try the lock each time).
        await a.handle(events[12:14])
        assert a.retrainer._task is None
        release.set()
        await _settled(a, b)
        await b.handle(events[14:])
        await _settled(a, b)
        assert rounds == ["b"]
        # It started with 12: the 4 applied since stay counted.
        assert await stores[1].training_count() == TrainingCount(events=4, due_from=0)
    finally:
        for s in stores:
            await s.close()


async def test_a_restarted_worker_keeps_the_count(migrated_url: str) -> None:
    """Old code began again from 0 at the restart: 4 events after it, no round."""
    rounds: list[str] = []
    release = asyncio.Event()
    release.set()
    before = Store(migrated_url)
    events = await stored_events(before, 10)
    await _worker(before, rounds, "before", release).handle(events[:6])
    await before.close()
    after = Store(migrated_url)
    try:
        worker = _worker(after, rounds, "after", release)
        await worker.handle(events[6:])
        await _settled(worker)
        assert rounds == ["after"]
        assert await after.training_count() == TrainingCount(events=0, due_from=0)
    finally:
        await after.close()


async def test_after_a_failed_round_every_worker_waits_as_many_events_more(
    migrated_url: str,
) -> None:
    """One worker's failed round (a model too large for the memory limit) counts for all:
    the next is due 10 events past the count at the failure, in whichever worker."""
    stores = Store(migrated_url), Store(migrated_url)
    try:
        rounds: list[str] = []
        release = asyncio.Event()
        release.set()
        a, b = (_worker(s, rounds, name, release) for s, name in zip(stores, "ab", strict=True))
        trained = a.retrainer._train

        async def fails() -> None:
            await trained()
            raise MemoryError("needs more than the limit")

        a.retrainer._train = fails
        events = await stored_events(stores[0], 20)
        await a.handle(events[:10])
        await _settled(a)
        assert rounds == ["a"]
        assert await stores[1].training_count() == TrainingCount(events=10, due_from=10)
        await b.handle(events[10:19])
        assert rounds == ["a"]
        await b.handle(events[19:])
        await _settled(b)
        assert rounds == ["a", "b"]
        assert await stores[1].training_count() == TrainingCount(events=0, due_from=0)
    finally:
        for s in stores:
            await s.close()
