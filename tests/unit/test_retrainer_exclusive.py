"""Workers retrain one at a time: a round due while another worker's runs is left to it."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from contextiq.worker.processor import Retrainer


async def test_a_round_due_while_another_runs_is_left_to_it() -> None:
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

    first = Retrainer(lambda: train("first"), 0, 0, exclusive)
    second = Retrainer(lambda: train("second"), 0, 0, exclusive)
    first.count(3)
    second.count(5)
    assert first.request()
    await asyncio.sleep(0)  # the first round holds the lock and trains
    assert second.request()
    await second._task  # type: ignore[misc]
    assert rounds == ["first"]
    # The running round reads every stored event: the second's count is spent, not kept.
    assert second.events_since_training == 0 and second.last_trained_at is not None
    release.set()
    await first._task  # type: ignore[misc]
    assert first.events_since_training == 0
    assert second.request()  # free again: the next round due trains
    await second._task  # type: ignore[misc]
    assert rounds == ["first", "second"]


@pytest.mark.parametrize(("trained_ago", "rounds"), [(60.0, 0), (7_200.0, 1)])
async def test_the_time_trigger_counts_from_the_last_round_any_process_ran(
    monkeypatch: pytest.MonkeyPatch, trained_ago: float, rounds: int
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

    await _checked(monkeypatch, Retrainer(train, 0, 3_600, last_round=last_round), 3)
    assert len(trained) == rounds


async def _checked(monkeypatch: pytest.MonkeyPatch, retrainer: Retrainer, checks: int) -> None:
    """Let `retrainer`'s time trigger, with 5 new events, look `checks` times with no real
    wait between, then finish the round it started, if any."""
    ticks = 0
    real_sleep = asyncio.sleep

    async def tick(_: float) -> None:
        nonlocal ticks
        ticks += 1
        await real_sleep(0)

    monkeypatch.setattr("contextiq.worker.processor.asyncio.sleep", tick)
    retrainer.count(5)
    schedule = asyncio.create_task(retrainer.schedule())
    while ticks < checks:
        await real_sleep(0)
    schedule.cancel()
    if retrainer._task is not None:
        await retrainer._task


async def test_a_failed_round_is_tried_again_after_as_many_events_more_not_at_the_next() -> None:
    """Old code started a round with every batch applied after a failure (a model too big
    for the memory limit): each round's whole-table counts, and its traceback, per batch."""
    rounds: list[int] = []

    async def train() -> None:
        rounds.append(1)
        raise MemoryError("needs more than the limit")

    retrainer = Retrainer(train, 10, 0)
    for n in (10, 1, 8, 1):
        retrainer.count(n)
        if retrainer._task is not None:
            await retrainer._task
    assert len(rounds) == 2  # at 10 events, and again at 20
    assert retrainer.events_since_training == 20  # nothing was learnt from them yet


async def test_a_failed_round_is_tried_again_a_time_interval_later_not_at_the_next_check(
    monkeypatch: pytest.MonkeyPatch,
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

    await _checked(monkeypatch, Retrainer(train, 0, 3_600, last_round=last_round), 6)
    assert len(rounds) == 1
