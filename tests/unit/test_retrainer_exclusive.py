"""Workers retrain one at a time: a round due while another worker's runs is left to it."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from contextiq.store.records import TrainingCount
from contextiq.store.store import Store
from contextiq.worker.processor import Retrainer
from tests.conftest import stored_events, until


async def test_a_round_due_while_another_runs_is_left_to_it(store: Store) -> None:
    lock = asyncio.Lock()  # what training_turn is across processes

    @asynccontextmanager
    async def exclusive() -> AsyncIterator[bool]:
        if lock.locked():
            yield False
            return
        async with lock:
            yield True

    release = asyncio.Event()
    rounds: list[str] = []

    async def train(name: str) -> None:
        rounds.append(name)
        await release.wait()

    first = Retrainer(lambda: train("first"), store, 0, 0, exclusive)
    second = Retrainer(lambda: train("second"), store, 0, 0, exclusive)
    await store.apply_events(await stored_events(store, 8))
    assert first.request()
    await until(lambda: rounds == ["first"])  # the first round holds the lock and trains
    assert second.request()
    await second._task  # type: ignore[misc]
    assert rounds == ["first"] and second.last_trained_at is not None
    # The running round takes off the count it started with; the second leaves it alone.
    assert await store.training_count() == TrainingCount(events=8, due_from=8)
    release.set()
    await first._task  # type: ignore[misc]
    assert await store.training_count() == TrainingCount(events=0, due_from=0)
    assert second.request()  # free again: the next round due trains
    await second._task  # type: ignore[misc]
    assert rounds == ["first", "second"]


@pytest.mark.parametrize(("trained_ago", "rounds"), [(60.0, 0), (7_200.0, 1)])
async def test_the_time_trigger_counts_from_the_last_round_any_process_ran(
    store: Store, monkeypatch: pytest.MonkeyPatch, trained_ago: float, rounds: int
) -> None:
    """A worker just (re)started, with new events, an hourly trigger and a model another
    worker (or this one before its restart) trained a minute ago, waits for the hour; old
    code trained again at its first check, so each worker a deploy restarted trained once
    more on next to nothing."""

    async def last_round() -> float:
        return time.time() - trained_ago

    trained: list[int] = []

    async def train() -> None:
        trained.append(1)

    await _checked(monkeypatch, Retrainer(train, store, 0, 3_600, last_round=last_round), 3)
    assert len(trained) == rounds


async def _checked(monkeypatch: pytest.MonkeyPatch, retrainer: Retrainer, checks: int) -> None:
    """Let `retrainer`'s triggers, with 5 new events, look `checks` times with no real wait
    between, then finish the round it started, if any."""
    ticks = 0
    real_sleep = asyncio.sleep

    async def tick(_: float) -> None:
        nonlocal ticks
        ticks += 1
        await real_sleep(0)

    monkeypatch.setattr("contextiq.worker.processor.asyncio.sleep", tick)
    store = retrainer.store
    first = (await store.training_count()).events
    await store.apply_events(await stored_events(store, 5, first=first))
    schedule = asyncio.create_task(retrainer.schedule())
    while ticks < checks:
        await real_sleep(0)
    schedule.cancel()
    if retrainer._task is not None:
        await retrainer._task


async def test_a_failed_round_is_tried_again_after_as_many_events_more_not_at_the_next(
    store: Store,
) -> None:
    """Old code started a round with every batch applied after a failure (a model too big
    for the memory limit): each round's whole-table counts, and its traceback, per batch."""
    rounds: list[int] = []

    async def train() -> None:
        rounds.append(1)
        raise MemoryError("needs more than the limit")

    retrainer = Retrainer(train, store, 10, 0)
    first = 0
    for n in (10, 1, 8, 1):
        retrainer.counted(await store.apply_events(await stored_events(store, n, first)))
        first += n
        if retrainer._task is not None:
            await retrainer._task
    assert len(rounds) == 2  # at 10 events, and again at 20
    # Nothing was learnt from them yet; the next is due 10 past the last failure.
    assert await store.training_count() == TrainingCount(events=20, due_from=20)


async def test_a_failed_round_is_tried_again_a_time_interval_later_not_at_the_next_check(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code counted the hourly trigger from the last round that succeeded: after a
    failure (a full model volume, found at the save after minutes of training) it trained
    again at every check, a minute apart, holding the memory and the lock for good."""

    async def last_round() -> float:
        return time.time() - 7_200.0  # due: the last success was two hours ago

    rounds: list[int] = []

    async def train() -> None:
        rounds.append(1)
        raise OSError(28, "No space left on device")

    await _checked(monkeypatch, Retrainer(train, store, 0, 3_600, last_round=last_round), 6)
    assert len(rounds) == 1


async def test_a_round_due_by_the_count_that_no_batch_started_starts_at_the_next_check(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the batch that brings the count to where a round is due starts one: when that
    round was left to `contextiq train` holding the lock, nothing else would start it."""
    await store.apply_events(await stored_events(store, 12))  # its round left to another
    trained: list[int] = []

    async def train() -> None:
        trained.append(1)

    await _checked(monkeypatch, Retrainer(train, store, 10, 0), 2)
    assert trained == [1]
    assert await store.training_count() == TrainingCount(events=0, due_from=0)


async def test_a_round_whose_process_was_killed_is_due_as_many_events_later(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not at the next check after a restart: a round killed for its memory would be killed
    again and again."""
    await store.apply_events(await stored_events(store, 12, first=100))
    await store.count_next_round_from_now()  # the round's start, then its process was killed
    trained: list[int] = []

    async def train() -> None:
        trained.append(1)

    retrainer = Retrainer(train, store, 10, 0)
    await _checked(monkeypatch, retrainer, 3)  # 17 events: 5 past where it started
    assert trained == []
    retrainer.counted(await store.apply_events(await stored_events(store, 5, first=200)))
    await retrainer._task  # type: ignore[misc]
    assert trained == [1]
