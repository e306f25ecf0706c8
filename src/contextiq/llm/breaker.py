"""A circuit breaker: stop calling a provider that keeps failing, try again later."""

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    #: Open because the provider refused our key or model: waiting out failures will not help.
    MISCONFIGURED = "misconfigured"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; after `cooldown_s` it lets
    one trial call through (half-open), which closes it on success or reopens it.
    A misconfiguration opens it at once, shown as its own state until the cooldown; so does
    a provider's `Retry-After`, for at least as long as it asked."""

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        #: How long it stays open once opened: the cooldown, or what a provider asked.
        self._hold_s = cooldown_s
        self._trial_in_flight = False
        self._misconfigured = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._hold_s:
            return BreakerState.HALF_OPEN
        return BreakerState.MISCONFIGURED if self._misconfigured else BreakerState.OPEN

    @property
    def refusing(self) -> bool:
        """Whether calls are refused now (open, for failures or a misconfiguration)."""
        return self.state in (BreakerState.OPEN, BreakerState.MISCONFIGURED)

    def allow(self) -> bool:
        """Whether a call may start now; in half-open state only one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._hold_s = self._cooldown_s
        self._trial_in_flight = False
        self._misconfigured = False

    def record_cancelled(self) -> None:
        """A call stopped before its outcome: a trial it was leaves the next call to try."""
        self._trial_in_flight = False

    def record_failure(self, retry_after_s: float | None = None) -> None:
        """A failed call; `retry_after_s`, a provider's `Retry-After`, opens it for that long
        at once: every call before then, from any request, would only be throttled again."""
        self._failures += 1
        tripped = self._opened_at is not None or self._failures >= self._threshold
        if tripped or retry_after_s:
            self._opened_at = self._clock()
            self._hold_s = max(self._cooldown_s if tripped else 0.0, retry_after_s or 0.0)
        self._trial_in_flight = False
        self._misconfigured = False

    def record_misconfigured(self) -> None:
        self._failures += 1
        self._opened_at = self._clock()
        self._hold_s = self._cooldown_s
        self._trial_in_flight = False
        self._misconfigured = True
