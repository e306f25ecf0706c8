"""Breaker, rate budget, retries, score cache and blending on their own."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.llm.base import (
    Candidate,
    LikedItem,
    LLMScore,
    MalformedReply,
    ScorerError,
    ScorerRejected,
    ScorerThrottled,
    ScorerUnavailable,
    UserContext,
)
from contextiq.llm.breaker import BreakerState, CircuitBreaker
from contextiq.llm.limits import RateBudget
from contextiq.llm.mix import mix_scores
from contextiq.llm.provider_status import retry_after, status_error
from contextiq.llm.retry_policy import RetryPolicy, with_retries
from contextiq.llm.score_cache import ScoreCache, context_hash


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_breaker_lets_one_trial_through_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=clock)
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert (breaker.state, breaker.allow()) == (BreakerState.OPEN, False)  # no narrowing
    clock.now = 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()
    breaker.record_success()
    assert (breaker.state, breaker.allow()) == (BreakerState.CLOSED, True)


def test_a_retry_after_opens_the_breaker_for_that_long_and_no_longer() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=5, cooldown_s=30, clock=clock)
    breaker.record_failure(retry_after_s=2)
    assert (breaker.state, breaker.allow()) == (BreakerState.OPEN, False)
    clock.now = 2
    assert breaker.allow()  # the trial, long before the 30 s a tripped breaker waits
    breaker.record_success()
    assert (breaker.state, breaker.allow()) == (BreakerState.CLOSED, True)


async def test_request_budget_waits_for_the_window_to_slide() -> None:
    clock = Clock()
    budget = RateBudget(requests_per_minute=2, clock=clock, sleep=clock.sleep)
    await budget.acquire(0)
    await budget.acquire(0)
    assert clock.now == 0
    await budget.acquire(0)
    assert clock.now == pytest.approx(60)


async def test_token_budget_waits_for_room() -> None:
    clock = Clock()
    budget = RateBudget(tokens_per_minute=1_000, clock=clock, sleep=clock.sleep)
    await budget.acquire(700)
    clock.now = 30
    await budget.acquire(200)
    assert clock.now == 30
    await budget.acquire(200)
    assert clock.now == pytest.approx(60)


async def test_an_oversized_call_still_runs_alone() -> None:
    clock = Clock()
    budget = RateBudget(tokens_per_minute=100, clock=clock, sleep=clock.sleep)
    await budget.acquire(5_000)
    assert clock.now == 0


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay_s=0.5, max_delay_s=4.0)
    rng = random.Random(7)
    delays = [policy.delay(attempt, rng) for attempt in range(10) for _ in range(20)]
    assert max(delays) <= 4.0
    assert len(set(delays)) == len(delays)


async def test_only_retryable_errors_are_retried() -> None:
    calls = 0

    async def malformed() -> int:
        nonlocal calls
        calls += 1
        raise MalformedReply("no")

    with pytest.raises(MalformedReply):
        await with_retries(malformed, RetryPolicy(attempts=3, base_delay_s=0.001))
    assert calls == 1

    async def throttled_once() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ScorerThrottled("slow down")
        return 42

    assert await with_retries(throttled_once, RetryPolicy(attempts=3, base_delay_s=0.001)) == 42


@pytest.mark.parametrize("error", [ScorerThrottled, ScorerUnavailable])
def test_a_retry_waits_at_least_what_the_provider_asked(error: type[ScorerError]) -> None:
    policy = RetryPolicy(attempts=2, base_delay_s=0.001, max_delay_s=1.0)
    rng = random.Random(1)
    assert policy.wait_before_retry(0, error("slow down", retry_after_s=0.2), rng) == 0.2
    assert policy.wait_before_retry(0, error("slow down", retry_after_s=2.0), rng) is None
    assert policy.wait_before_retry(1, error("slow down"), rng) is None  # no attempts left
    assert policy.wait_before_retry(0, ScorerRejected("no"), rng) is None


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [(408, ScorerUnavailable, True), (409, ScorerError, False), (502, ScorerUnavailable, True)],
)
def test_other_statuses(status: int, error: type[ScorerError], retryable: bool) -> None:
    """A request timeout on the server's side is worth a retry; an unexpected 4xx is not."""
    found = status_error(status, {}, '{"error": "x"}')
    assert type(found) is error and found.retryable is retryable
    assert str(found) == f'HTTP {status}: {{"error": "x"}}'


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("-3", 0.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_reads_seconds_and_http_dates(header: str, seconds: float | None) -> None:
    assert retry_after({"retry-after": header}) == seconds
    assert retry_after({}) is None


def test_retry_after_a_future_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=100)
    waited = retry_after({"retry-after": format_datetime(later, usegmt=True)})
    assert waited is not None and 95 < waited <= 100


USER = UserContext("u1", (LikedItem("Alien", "scifi", ("space",)),))
A = Candidate("a", "Dune", "scifi", ("space",), "A desert planet.")
B = Candidate("b", "Heat", "crime")


def test_context_hash_ignores_the_id_but_not_the_taste() -> None:
    assert context_hash(USER) == context_hash(UserContext("someone-else", USER.recent))
    moved = UserContext("u1", (*USER.recent, LikedItem("Heat", "crime")))
    assert context_hash(moved) != context_hash(USER)


async def test_score_cache_separates_models_and_prompt_versions() -> None:
    cache = MemoryCache()
    v1 = ScoreCache(cache, "openai", "m", "listwise-v1", 60)
    ctx = context_hash(USER)
    await v1.put_many(ctx, [A, B], {"a": LLMScore(0.5, "why")})
    assert await v1.get_many(ctx, [A, B]) == {"a": LLMScore(0.5, "why")}
    for other in (
        ScoreCache(cache, "openai", "m", "listwise-v2", 60),
        ScoreCache(cache, "openai", "other", "listwise-v1", 60),
        ScoreCache(cache, "bedrock", "m", "listwise-v1", 60),
    ):
        assert await other.get_many(ctx, [A]) == {}


async def test_an_edited_item_misses_the_score_cache() -> None:
    """Its old score and reason judged text the item no longer has."""
    scores = ScoreCache(MemoryCache(), "openai", "m", "listwise-v1", 60)
    ctx = context_hash(USER)
    await scores.put_many(ctx, [A], {"a": LLMScore(0.9, "a space opera")})
    assert await scores.get_many(ctx, [A]) == {"a": LLMScore(0.9, "a space opera")}
    for edited in (
        replace(A, title="Heat"),
        replace(A, category="crime"),
        replace(A, tags=("heist",)),
        replace(A, description="A detective hunts a crew of thieves."),
    ):
        assert await scores.get_many(ctx, [edited]) == {}, edited


def test_blend_weights_and_falls_back_to_ml() -> None:
    mixed = mix_scores(0.5, LLMScore(1.0, "great match"), 0.6, "because you liked Alien")
    assert mixed.score == pytest.approx(0.7)
    assert (mixed.ml_score, mixed.llm_score, mixed.reason) == (0.5, 1.0, "great match")
    alone = mix_scores(0.5, None, 0.6, "because you liked Alien")
    assert (alone.score, alone.llm_score, alone.reason) == (0.5, None, "because you liked Alien")
    no_reason = mix_scores(0.5, LLMScore(0.2, ""), 0.6, "because you liked Alien")
    assert no_reason.reason == "because you liked Alien"
