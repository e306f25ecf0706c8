"""Background model work yields the machine to requests."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from contextiq.llm import background
from contextiq.llm.background import ForegroundLoad, cpu_seconds, is_background, lower_priority


class Counters:
    """CPU seconds (machine, background threads) and a clock, advanced by the test."""

    def __init__(self) -> None:
        self.machine = self.background = self.now = 0.0

    def sample(self) -> tuple[float, float]:
        return self.machine, self.background

    def advance(self, seconds: float, machine: float, background: float) -> None:
        self.now += seconds
        self.machine += machine
        self.background += background


def test_the_share_leaves_out_the_background_threads() -> None:
    counters = Counters()
    load = ForegroundLoad(counters.sample, cores=2, clock=lambda: counters.now)
    counters.advance(1.0, machine=1.5, background=0.5)  # the foreground: one core of two
    assert load.share() == pytest.approx(0.5)
    counters.advance(2.0, machine=1.0, background=1.0)  # only the background worked
    assert load.share() == 0.0


async def test_waiting_lasts_while_the_others_are_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "LOOK_SECONDS", 0)
    counters = Counters()
    # The foreground's CPU seconds in the second before each sample: the first is taken at
    # construction, then two busy looks and a quiet one.
    looks = iter([0.0, 2.0, 2.0, 0.1])

    def sample() -> tuple[float, float]:
        counters.advance(1.0, machine=next(looks), background=0.0)
        return counters.sample()

    load = ForegroundLoad(sample, cores=2, clock=lambda: counters.now)
    await load.wait_until_quiet()
    assert next(looks, None) is None


async def test_a_lowered_thread_counts_as_background_and_others_do_not() -> None:
    def lowered_work() -> int:
        lower_priority()
        sum(range(5_000_000))  # a tenth of a second of CPU at the lowered priority
        return threading.get_native_id()

    before = cpu_seconds()
    with ThreadPoolExecutor(max_workers=1) as pool:  # the thread lives until the pool closes
        thread = await asyncio.get_running_loop().run_in_executor(pool, lowered_work)
        machine, spent = (now - then for now, then in zip(cpu_seconds(), before, strict=True))
        assert is_background(thread)
        assert not is_background(threading.get_native_id())
        assert machine > 0 and spent > 0
