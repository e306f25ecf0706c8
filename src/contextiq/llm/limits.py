"""Per-provider spending limits: calls in flight, and requests and tokens per minute."""

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

WINDOW_S = 60.0


class RateBudget:
    """A sliding one-minute window of requests and tokens; 0 means unlimited.

    `acquire` waits for room rather than failing, so the worker's precompute
    spreads itself out; the request path never waits on it because it only
    awaits the provider within its latency budget.
    """

    def __init__(
        self,
        requests_per_minute: int = 0,
        tokens_per_minute: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sleep = sleep
        self._rpm = requests_per_minute
        self._tpm = tokens_per_minute
        self._clock = clock
        self._spent: deque[tuple[float, int]] = deque()
        self._tokens_in_window = 0
        self._lock = asyncio.Lock()

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= WINDOW_S:
            _, tokens = self._spent.popleft()
            self._tokens_in_window -= tokens

    def _wait_needed(self, now: float, tokens: int) -> float:
        """Seconds until one more call of `tokens` fits; 0 when it fits now."""
        over_requests = self._rpm and len(self._spent) >= self._rpm
        over_tokens = self._tpm and self._spent and self._tokens_in_window + tokens > self._tpm
        if not (over_requests or over_tokens):
            return 0.0
        return max(0.01, self._spent[0][0] + WINDOW_S - now)

    async def acquire(self, tokens: int) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                wait = self._wait_needed(now, tokens)
                if wait == 0.0:
                    self._spent.append((now, tokens))
                    self._tokens_in_window += tokens
                    return
                await self._sleep(wait)
