"""What `/health` reports about the scorer: its state and typical latency."""

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Literal

from contextiq.llm.breaker import BreakerState

HealthState = Literal["ok", "degraded", "open"]


@dataclass(frozen=True, slots=True)
class ScorerHealth:
    state: HealthState
    provider: str
    model: str
    p50_latency_ms: float | None
    calls: int
    failures: int
    detail: str | None = None


class CallStats:
    """Outcomes and latencies of the most recent provider calls."""

    def __init__(self, window: int = 200) -> None:
        self._latencies_ms: deque[float] = deque(maxlen=window)
        self._outcomes: deque[bool] = deque(maxlen=20)
        self.calls = 0
        self.failures = 0
        self.last_error: str | None = None

    def success(self, latency_ms: float) -> None:
        self.calls += 1
        self._latencies_ms.append(latency_ms)
        self._outcomes.append(True)

    def failure(self, error: str) -> None:
        self.calls += 1
        self.failures += 1
        self._outcomes.append(False)
        self.last_error = error

    def p50_ms(self) -> float | None:
        return statistics.median(self._latencies_ms) if self._latencies_ms else None

    def state(self, breaker: BreakerState) -> HealthState:
        """Open while the breaker is open (misconfigured too); degraded while any recent call
        failed."""
        if breaker in (BreakerState.OPEN, BreakerState.MISCONFIGURED):
            return "open"
        if breaker is BreakerState.HALF_OPEN or not all(self._outcomes):
            return "degraded"
        return "ok"
