"""Retries of transient provider failures with exponential backoff and full jitter."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from contextiq.llm.base import ScorerError, ScorerThrottled

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)]."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying only ScorerErrors marked retryable; the last error propagates.

    A provider's `Retry-After` is a floor on the wait: an earlier retry would only be throttled
    again (and count against the breaker). One longer than the policy would ever wait ends
    the retries at once.
    """
    for attempt in range(policy.attempts):
        try:
            return await call()
        except ScorerError as exc:
            if not exc.retryable or attempt == policy.attempts - 1:
                raise
            asked = exc.retry_after_s if isinstance(exc, ScorerThrottled) else None
            if asked is not None and asked > policy.max_delay_s:
                raise
            rng = rng or random.Random()  # seeded from the OS: only when a retry needs it
            await asyncio.sleep(max(policy.delay(attempt, rng), asked or 0.0))
    raise AssertionError("unreachable: the loop returns or raises")
