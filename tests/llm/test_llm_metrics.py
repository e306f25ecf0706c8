"""Language-model metrics as a scrape sees them: latency, outcomes, timeouts, budget, breaker."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from prometheus_client import generate_latest

from contextiq.cache.memory import MemoryCache
from contextiq.llm.base import LikedItem, UserContext
from contextiq.llm.factory import open_scorer
from contextiq.llm.service import ScoringPolicy, ScoringService
from contextiq.observability.sampler import MetricsSampler
from tests.llm.fake_llm_server import FakeServer
from tests.llm.scenario import CANDIDATES, FAST_RETRIES, USER
from tests.observability.scrape import value

Make = Callable[[ScoringPolicy], ScoringService]


@pytest.fixture
async def make(openai_server: FakeServer) -> AsyncIterator[Make]:
    made: list[ScoringService] = []

    def build(policy: ScoringPolicy) -> ScoringService:
        scorer = open_scorer(f"openai://{openai_server.address}/v1?model=m")
        assert scorer is not None
        made.append(ScoringService(scorer, MemoryCache(), policy))
        return made[-1]

    yield build
    for service in made:
        await service.close()


def _scrape() -> str:
    return generate_latest().decode()


async def _breaker_level(service: ScoringService) -> float:
    class NoStore:
        async def outbox_backlog(self) -> tuple[int, None]:
            return 0, None

    class NoModel:
        version = None

    sampler = MetricsSampler(NoStore(), NoModel(), service, 1.0)  # type: ignore[arg-type]
    await sampler.sample()
    return value(_scrape(), "contextiq_llm_breaker_state", provider=service.provider)


def test_a_providers_series_are_scraped_at_zero_before_any_call(make: Make) -> None:
    # rate() and increase() would miss a first timeout that made its series appear.
    service = make(ScoringPolicy())
    text = _scrape()
    for name in (
        "contextiq_llm_timeouts_total",
        "contextiq_llm_budget_exceeded_total",
        "contextiq_llm_call_duration_seconds_count",
    ):
        assert f'{name}{{provider="{service.provider}"}}' in text, name
    for outcome in ("ok", "error", "timeout", "rejected", "misconfigured"):
        series = f'contextiq_llm_calls_total{{outcome="{outcome}",provider="{service.provider}"}}'
        assert series in text


async def test_successful_calls_are_timed(make: Make) -> None:
    service = make(FAST_RETRIES)
    before = _scrape()
    assert await service.precompute(USER, CANDIDATES)
    after = _scrape()
    name, labels = "contextiq_llm_call_duration_seconds_count", {"provider": service.provider}
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    ok = {"provider": service.provider, "outcome": "ok"}
    assert (
        value(after, "contextiq_llm_calls_total", **ok)
        - value(before, "contextiq_llm_calls_total", **ok)
        == 1
    )
    assert await _breaker_level(service) == 0


async def test_timeouts_budget_misses_and_an_open_breaker(
    make: Make, openai_server: FakeServer
) -> None:
    no_retry = replace(FAST_RETRIES.retry, attempts=1)
    policy = replace(FAST_RETRIES, call_timeout_s=0.05, failure_threshold=2, retry=no_retry)
    service = make(policy)
    openai_server.script.default = "hang"
    before = _scrape()
    assert await service.score_within_budget(USER, CANDIDATES, budget_ms=10) == {}
    await asyncio.gather(*service._inflight.values())  # the background call times out
    await service.precompute(USER, CANDIDATES)  # a second timeout opens the breaker
    openai_server.script.release.set()
    after = _scrape()
    labels = {"provider": service.provider}
    for name, expected in (
        ("contextiq_llm_timeouts_total", 2),
        ("contextiq_llm_budget_exceeded_total", 1),
    ):
        assert value(after, name, **labels) - value(before, name, **labels) == expected, name
    assert await _breaker_level(service) == 2


async def test_the_clients_own_timeout_counts_as_a_timeout(openai_server: FakeServer) -> None:
    scorer = open_scorer(f"openai://{openai_server.address}/v1?model=m&timeout=0.05")
    assert scorer is not None
    no_retry = replace(FAST_RETRIES.retry, attempts=1)
    # The service's timer is far off: only the client can see this timeout.
    service = ScoringService(scorer, MemoryCache(), replace(FAST_RETRIES, retry=no_retry))
    openai_server.script.default = "hang"
    before = _scrape()
    await service.precompute(USER, CANDIDATES)
    after = _scrape()
    await service.close()
    name, labels = "contextiq_llm_timeouts_total", {"provider": service.provider}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


async def test_a_shed_request_counts_as_answered_without_its_scores(
    make: Make, openai_server: FakeServer
) -> None:
    """Shedding starts when the provider is at its worst: the budget misses must not flatten."""
    service = make(replace(FAST_RETRIES, max_background=1))
    openai_server.script.default = "hang"
    other = UserContext("u2", (LikedItem("Heat", "crime"),))
    before = _scrape()
    await service.score_within_budget(USER, CANDIDATES, budget_ms=0)
    await service.score_within_budget(other, CANDIDATES, budget_ms=0)  # shed
    after = _scrape()
    openai_server.script.release.set()
    name, labels = "contextiq_llm_budget_exceeded_total", {"provider": service.provider}
    assert value(after, name, **labels) - value(before, name, **labels) == 2


async def test_a_refused_key_opens_the_breaker_at_once_and_is_logged_once(
    openai_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """No wait or retry fixes a bad key or model: the first refusal opens the breaker, shown
    as misconfigured (3) until the cooldown, and the operator is told once what to fix."""
    scorer = open_scorer(f"openai://{openai_server.address}/v1?model=m")
    assert scorer is not None
    clock = [0.0]
    service = ScoringService(scorer, MemoryCache(), FAST_RETRIES, lambda: clock[0])
    openai_server.script.default = "status:401"
    before = _scrape()
    with caplog.at_level(logging.ERROR, logger="contextiq.llm.service"):
        assert await service.precompute(USER, CANDIDATES) == {}
        assert await _breaker_level(service) == 3
        assert await service.score_within_budget(USER, CANDIDATES) == {}  # no call made
        clock[0] += FAST_RETRIES.cooldown_s  # the half-open trial is refused again
        assert await service.precompute(USER, CANDIDATES) == {}
    after = _scrape()
    await service.close()
    assert len(openai_server.script.requests) == 2
    assert await _breaker_level(service) == 3
    assert service.health().state == "open"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "CONTEXTIQ_LLM_URL" in errors[0].getMessage()
    labels = {"provider": service.provider, "outcome": "misconfigured"}
    calls = "contextiq_llm_calls_total"
    assert value(after, calls, **labels) - value(before, calls, **labels) == 2


async def test_a_rejected_request_is_served_unscored_and_not_held_against_the_provider(
    make: Make, openai_server: FakeServer
) -> None:
    service = make(replace(FAST_RETRIES, failure_threshold=1))
    openai_server.script.default = "status:400"
    before = _scrape()
    assert await service.precompute(USER, CANDIDATES) == {}
    assert len(openai_server.script.requests) == 1  # not retried
    assert await _breaker_level(service) == 0
    openai_server.script.default = "ok"
    assert await service.score_within_budget(USER, CANDIDATES, budget_ms=5_000)
    after = _scrape()
    labels = {"provider": service.provider, "outcome": "rejected"}
    calls = "contextiq_llm_calls_total"
    assert value(after, calls, **labels) - value(before, calls, **labels) == 1
