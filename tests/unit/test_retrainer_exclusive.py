"""Workers retrain one at a time: a round due while another worker's runs is left to it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
