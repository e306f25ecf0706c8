"""A worker's liveness: its event loop shows that it still turns by beating a clock.

A thread serves the worker's port, so a TCP probe, or a scrape, is answered while the loop
stands still and no event is applied. `GET /live` on that port reads this clock instead, and
`serve --workers N` reads its duties process's from shared memory.
"""

import asyncio
import ctypes
import time
from collections.abc import Callable

#: Silent this long, the loop counts as stuck. A training round runs beside the loop in a
#: thread and a full garbage collection pauses it for a second or two, far below this.
STALE_AFTER_SECONDS = 30.0
BEAT_SECONDS = 1.0


class Heartbeat:
    def __init__(
        self,
        stale_after: float = STALE_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        cell: ctypes.c_double | None = None,
    ) -> None:
        """`cell`: where the last beat is kept; shared memory (a `multiprocessing` RawValue)
        lets another process read it (the monotonic clock is the host's, not the process's)."""
        self._stale_after = stale_after
        self._clock = clock
        self.cell = cell if cell is not None else ctypes.c_double()
        self.beat()

    def beat(self) -> None:
        self.cell.value = self._clock()

    def silent_for(self) -> float:
        return self._clock() - self.cell.value

    def alive(self) -> bool:
        return self.silent_for() < self._stale_after

    async def run(self) -> None:
        """Beat until cancelled: the task only runs while the loop turns."""
        while True:
            self.beat()
            await asyncio.sleep(BEAT_SECONDS)
