"""The budgeted, cached, guarded request path and precompute, over real HTTP."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.llm.base import Candidate, LikedItem, LLMScore, Scorer, UserContext
from contextiq.llm.factory import open_scorer
from contextiq.llm.service import ScoringPolicy, ScoringService
from tests.conftest import until
from tests.llm.fake_llm_server import FakeServer
from tests.llm.scenario import CANDIDATES, FAST_RETRIES, SCIFI, USER

ServiceFactory = Callable[..., ScoringService]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def make_service(openai_server: FakeServer) -> AsyncIterator[ServiceFactory]:
    made: list[ScoringService] = []

    def make(
        policy: ScoringPolicy = FAST_RETRIES, clock: FakeClock | None = None
    ) -> ScoringService:
        scorer = open_scorer(f"openai://{openai_server.address}/v1?model=m")
        assert scorer is not None
        service = ScoringService(scorer, MemoryCache(), policy, clock or FakeClock())
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()


async def _settle(service: ScoringService) -> None:
    """Wait for background fills started by earlier requests."""
    await asyncio.gather(*service._inflight.values())


async def test_slow_reply_does_not_hold_the_request(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.default = "hang"
    service = make_service()
    assert await service.score_within_budget(USER, CANDIDATES, budget_ms=50) == {}
    # The call goes on after the budget (the client's first request may leave after it).
    await until(lambda: len(openai_server.script.requests) == 1)
    openai_server.script.release.set()
    await _settle(service)
    openai_server.script.default = "ok"
    scores = await service.score_within_budget(USER, CANDIDATES, budget_ms=0)
    assert set(scores) == {c.content_id for c in CANDIDATES}
    assert len(openai_server.script.requests) == 1


async def test_a_fast_reply_within_budget_is_used_at_once(make_service: ServiceFactory) -> None:
    service = make_service()
    scores = await service.score_within_budget(USER, CANDIDATES, budget_ms=5_000)
    assert scores[SCIFI.content_id].score == 1.0


async def test_repeated_requests_join_one_running_call(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.default = "hang"
    service = make_service()
    for _ in range(3):
        await service.score_within_budget(USER, CANDIDATES, budget_ms=10)
    openai_server.script.release.set()
    await _settle(service)
    assert len(openai_server.script.requests) == 1


async def test_cached_scores_come_first_and_only_misses_are_sent(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    service = make_service()
    await service.precompute(USER, CANDIDATES[:2])
    await service.precompute(USER, CANDIDATES)
    second = openai_server.script.requests[1]["messages"][1]["content"]
    assert SCIFI.content_id not in second
    assert CANDIDATES[3].content_id in second


async def test_a_changed_context_misses_the_cache(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    service = make_service()
    await service.precompute(USER, CANDIDATES)
    moved_on = UserContext(USER.user_id, (*USER.recent, LikedItem("Amelie", "romance")))
    await service.precompute(moved_on, CANDIDATES)
    assert len(openai_server.script.requests) == 2


async def test_throttling_is_retried_with_backoff(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.queue.extend(["throttle", "throttle"])
    service = make_service()
    scores = await service.precompute(USER, CANDIDATES)
    assert len(scores) == len(CANDIDATES)
    assert len(openai_server.script.requests) == 3


async def test_persistent_throttling_gives_up_without_raising(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.default = "throttle"
    service = make_service()
    assert await service.precompute(USER, CANDIDATES) == {}
    assert len(openai_server.script.requests) == FAST_RETRIES.retry.attempts
    assert service.health().state == "degraded"


async def test_a_retry_after_beyond_the_policys_longest_wait_ends_the_retries(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    """Retrying sooner than the provider asked would only be throttled again."""
    openai_server.script.default = "throttle"
    openai_server.script.retry_after = "30"
    service = make_service()
    assert await service.precompute(USER, CANDIDATES) == {}
    assert len(openai_server.script.requests) == 1


async def test_a_retry_after_keeps_every_request_off_the_provider_until_then(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    """Old code called again on the next request (each replica, each user): throttled again,
    until five failures opened the breaker for its own 30 s, whatever the provider asked."""
    clock = FakeClock()
    service = make_service(clock=clock)
    openai_server.script.default = "throttle"
    openai_server.script.retry_after = "120"
    assert await service.precompute(USER, CANDIDATES) == {}
    openai_server.script.default = "ok"
    other = UserContext("u2", (LikedItem("Amelie", "romance"),))
    clock.now += 100
    assert await service.precompute(other, CANDIDATES) == {}
    assert len(openai_server.script.requests) == 1
    assert service.health().state == "open"
    clock.now += 20
    assert len(await service.precompute(other, CANDIDATES)) == len(CANDIDATES)
    assert len(openai_server.script.requests) == 2


async def test_garbage_means_ml_only_not_an_exception(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.default = "garbage"
    service = make_service()
    assert await service.score_within_budget(USER, CANDIDATES, budget_ms=5_000) == {}
    assert len(openai_server.script.requests) == 1
    health = service.health()
    assert health.state == "degraded"
    assert health.detail is not None and "MalformedReply" in health.detail


async def test_breaker_opens_after_failures_and_closes_after_cooldown(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    clock = FakeClock()
    policy = replace(FAST_RETRIES, failure_threshold=3, cooldown_s=30.0)
    service = make_service(policy, clock)
    openai_server.script.default = "error"
    await service.precompute(USER, CANDIDATES)
    assert len(openai_server.script.requests) == 3
    assert service.health().state == "open"

    openai_server.script.default = "ok"
    assert await service.precompute(USER, CANDIDATES) == {}
    assert await service.score_within_budget(USER, CANDIDATES, budget_ms=1_000) == {}
    assert len(openai_server.script.requests) == 3

    clock.now += 31
    assert service.health().state == "degraded"
    assert len(await service.precompute(USER, CANDIDATES)) == len(CANDIDATES)
    assert len(openai_server.script.requests) == 4
    assert service.health().state in {"ok", "degraded"}
    assert service._breaker.state.value == "closed"


async def _opened_and_due(make_service: ServiceFactory, server: FakeServer) -> ScoringService:
    """A breaker opened by one failed call (no retries), its 30 s passed: the next call is
    the trial. The provider keeps failing unless the test says otherwise."""
    clock = FakeClock()
    no_retry = replace(FAST_RETRIES.retry, attempts=1)
    service = make_service(replace(FAST_RETRIES, failure_threshold=1, retry=no_retry), clock)
    server.script.default = "error"
    await service.precompute(USER, CANDIDATES)
    clock.now += 31
    return service


async def test_a_failed_trial_reopens_the_breaker(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    service = await _opened_and_due(make_service, openai_server)
    await service.precompute(USER, CANDIDATES)
    assert len(openai_server.script.requests) == 2
    assert service.health().state == "open"


async def test_a_cancelled_trial_leaves_the_breaker_to_try_again(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    """A trial call cancelled (its request or precompute stopped) never said whether the
    provider is back: the next call is the trial, not refused forever."""
    service = await _opened_and_due(make_service, openai_server)
    openai_server.script.default = "hang"
    trial = asyncio.create_task(service.precompute(USER, CANDIDATES))
    await until(lambda: len(openai_server.script.requests) == 2)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    openai_server.script.default = "ok"
    assert len(await service.precompute(USER, CANDIDATES)) == len(CANDIDATES)
    assert service._breaker.state.value == "closed"


async def test_concurrency_is_limited(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.default = "hang"
    service = make_service(replace(FAST_RETRIES, max_concurrency=1, batch_size=1))
    work = asyncio.create_task(service.precompute(USER, CANDIDATES))
    await asyncio.sleep(0.2)  # time for unlimited calls to pile up at the server
    openai_server.script.release.set()
    assert len(await work) == len(CANDIDATES)
    assert len(openai_server.script.requests) == len(CANDIDATES)
    assert openai_server.script.max_in_flight == 1


async def test_background_work_is_shed_beyond_its_limit(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.default = "hang"
    service = make_service(replace(FAST_RETRIES, max_background=1))
    other = UserContext("u2", (LikedItem("Heat", "crime"),))
    await service.score_within_budget(USER, CANDIDATES, budget_ms=0)
    await service.score_within_budget(other, CANDIDATES, budget_ms=0)
    assert service.shed == 1
    openai_server.script.release.set()
    await _settle(service)


async def test_health_reports_p50_latency(make_service: ServiceFactory) -> None:
    service = make_service()
    assert service.health().p50_latency_ms is None
    await service.precompute(USER, CANDIDATES)
    health = service.health()
    assert health.state == "ok"
    assert health.p50_latency_ms is not None and health.p50_latency_ms > 0
    assert (health.provider, health.model, health.calls) == ("openai", "m", 1)


async def test_a_user_without_history_costs_nothing(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    service = make_service()
    assert await service.score_within_budget(UserContext("new", ()), CANDIDATES) == {}
    assert openai_server.script.requests == []


async def test_bedrock_throttling_is_retried_by_the_service(bedrock_server: FakeServer) -> None:
    bedrock_server.script.queue.extend(["throttle", "throttle"])
    scorer = open_scorer(
        f"bedrock://m?region=eu-west-1&endpoint_url=http://{bedrock_server.address}"
    )
    assert scorer is not None
    service = ScoringService(scorer, MemoryCache(), FAST_RETRIES)
    assert len(await service.precompute(USER, CANDIDATES)) == len(CANDIDATES)
    assert len(bedrock_server.script.requests) == 3
    await service.close()


async def test_a_ttl_of_zero_keeps_nothing_and_asks_for_no_precompute(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    service = make_service(replace(FAST_RETRIES, cache_ttl_seconds=0.0))
    assert not service.keeps_scores
    assert len(await service.precompute(USER, CANDIDATES)) == len(CANDIDATES)
    assert len(await service.precompute(USER, CANDIDATES)) == len(CANDIDATES)
    assert len(openai_server.script.requests) == 2  # nothing was kept between the two


class _DatabaseRead(Scorer):
    """Local work that takes longer than the budget, as a loaded database read can."""

    provider = model = "inline"
    inline = True

    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        await asyncio.sleep(0.05)
        return {c.content_id: LLMScore(0.5, "near") for c in candidates}


async def test_an_inline_scorer_is_awaited_past_the_budget() -> None:
    service = ScoringService(_DatabaseRead(), MemoryCache(), ScoringPolicy(budget_ms=1))
    scores = await service.score_within_budget(USER, CANDIDATES)
    assert set(scores) == {c.content_id for c in CANDIDATES}
    await service.close()


async def test_a_timed_out_call_is_retried_like_any_transient_failure(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    openai_server.script.queue.append("hang")
    service = make_service(replace(FAST_RETRIES, call_timeout_s=0.1))
    scores = await service.precompute(USER, CANDIDATES)
    assert set(scores) == {c.content_id for c in CANDIDATES}
    assert len(openai_server.script.requests) == 2


async def test_an_edited_candidate_is_scored_again(
    make_service: ServiceFactory, openai_server: FakeServer
) -> None:
    service = make_service()
    await service.precompute(USER, [SCIFI])
    await service.precompute(USER, [SCIFI])
    assert len(openai_server.script.requests) == 1
    edited = replace(SCIFI, description="Now a romantic comedy set in Paris.")
    assert SCIFI.content_id in await service.precompute(USER, [edited])
    assert len(openai_server.script.requests) == 2
