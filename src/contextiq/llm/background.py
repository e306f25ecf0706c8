"""Background model work (the item-vector backfill) yields the machine to requests.

Its thread runs at the idle scheduling priority (`lower_priority`), and that is not enough on
this project's two-core virtual machines: with the backfill at `SCHED_IDLE`, local:// answers
at a paced 200/s had a p99 of 278 ms, and even one plain busy loop at `SCHED_IDLE` took the
p99 without the language model from 23 to 64 ms (docs/benchmarks.md, "Item vectors while
serving"). So before each step the backfill looks at how much CPU everything but the
background threads used since its last look (`ForegroundLoad`: other processes, and requests
in this one), and while that is high it waits instead of computing; requests score items
without a vector by their category's mean vector meanwhile.
"""

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable

import psutil

log = logging.getLogger(__name__)

#: Niceness of a background thread where the idle scheduling policy is refused.
BACKGROUND_NICE = 10
#: The foreground using more than this share of the machine's cores counts as busy.
BUSY_SHARE = 0.25
#: How long each look while busy lasts.
LOOK_SECONDS = 1.0


def lower_priority() -> None:
    """Run on a background thread; Linux scheduling is per thread, and threads it starts
    (torch's) inherit it. At `SCHED_IDLE` a request waking up takes the core at once."""
    thread = threading.get_native_id()
    try:
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not permitted: lower the niceness instead
        try:
            os.setpriority(os.PRIO_PROCESS, thread, BACKGROUND_NICE)
        except OSError as exc:  # the work still runs, at normal priority
            log.debug("background thread keeps its priority: %s", exc)


def is_background(thread_id: int) -> bool:
    """A thread that `lower_priority` lowered, or one it started."""
    try:
        if os.sched_getscheduler(thread_id) == os.SCHED_IDLE:
            return True
        return os.getpriority(os.PRIO_PROCESS, thread_id) >= BACKGROUND_NICE
    except AttributeError:  # no per-thread scheduling here: count the whole process
        return True
    except OSError:  # the thread has ended
        return False


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds spent so far by the whole machine and by this process's background threads."""
    machine = psutil.cpu_times()
    interrupts = getattr(machine, "irq", 0.0) + getattr(machine, "softirq", 0.0)
    threads = psutil.Process().threads()
    background = sum(t.user_time + t.system_time for t in threads if is_background(t.id))
    return machine.user + machine.nice + machine.system + interrupts, background


class ForegroundLoad:
    """The share of the machine's cores that everything but the background threads used
    since the last look."""

    def __init__(
        self,
        sample: Callable[[], tuple[float, float]] = cpu_seconds,
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sample, self._clock = sample, clock
        self._cores = cores or psutil.cpu_count() or 1
        self._last = (clock(), *sample())

    def share(self) -> float:
        now, machine, background = self._clock(), *self._sample()
        then, machine_then, background_then = self._last
        self._last = (now, machine, background)
        foreground = (machine - machine_then) - (background - background_then)
        return max(0.0, foreground) / max(now - then, 1e-3) / self._cores

    async def wait_until_quiet(self) -> None:
        """Return once the foreground used at most `BUSY_SHARE` of the cores over one look."""
        busy = self.share() > BUSY_SHARE
        while busy:  # a poll: the foreground's load sends no event
            await asyncio.sleep(LOOK_SECONDS)
            busy = self.share() > BUSY_SHARE
