"""Retries of transient provider failures with exponential backoff and full jitter."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from contextiq.llm.base import ScorerError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)]."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**attempt))

    def wait_before_retry(self, attempt: int, exc: ScorerError, rng: random.Random) -> float | None:
        """Seconds to wait before retrying after `exc` ended attempt `attempt`; None: give up.

        A provider's `Retry-After` is a floor on the wait: an earlier retry would only be
        throttled again (and count against the breaker). One longer than the policy would ever
        wait ends the retries at once.
        """
        if not exc.retryable or attempt >= self.attempts - 1:
            return None
        asked = exc.retry_after_s
        if asked is not None and asked > self.max_delay_s:
            return None
        return max(self.delay(attempt, rng), asked or 0.0)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying ScorerErrors as `policy.wait_before_retry` says; the last one
    propagates."""
    for attempt in range(policy.attempts):
        try:
            return await call()
        except ScorerError as exc:
            rng = rng or random.Random()  # seeded from the OS: only when a failure needs it
            wait = policy.wait_before_retry(attempt, exc, rng)
            if wait is None:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")
