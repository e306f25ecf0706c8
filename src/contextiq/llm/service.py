"""Language-model scores within a latency budget: the request path never waits long.

The request path reads cached scores, starts one provider call for what is
missing and waits for it at most the budget (an `inline` scorer, local work as cheap as a
database read, is awaited in full); a call that takes longer keeps
running in the background and fills the cache for the next request. The
worker calls `precompute` after interactions and retrains so most requests
find their scores ready. Around every provider call: a concurrency limit, a
per-minute request and token budget, retries with jitter on throttling (never sooner than
the provider's `Retry-After`; none when that is longer than the policy's longest wait), and a
circuit breaker. A refused key or model (ScorerMisconfigured) opens the breaker at once and is
logged once; a refused request (ScorerRejected) is served without scores and not held against
the provider.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from contextiq.cache.base import Cache
from contextiq.llm.base import (
    Candidate,
    LLMScore,
    Scorer,
    ScorerError,
    ScorerMisconfigured,
    ScorerRejected,
    ScorerTimeout,
    UserContext,
)
from contextiq.llm.breaker import BreakerState, CircuitBreaker
from contextiq.llm.health import CallStats, ScorerHealth
from contextiq.llm.limits import RateBudget
from contextiq.llm.prompt import PROMPT_VERSION
from contextiq.llm.retry_policy import RetryPolicy, with_retries
from contextiq.llm.score_cache import ScoreCache, context_hash
from contextiq.observability.metrics import (
    LLM_BUDGET_EXCEEDED,
    record_llm_call,
    start_llm_series,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScoringPolicy:
    budget_ms: int = 250
    cache_ttl_seconds: float = 6 * 3600
    #: Candidates per provider call: the listwise prompt size.
    batch_size: int = 20
    max_concurrency: int = 4
    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    #: Seconds one provider call may take; the clients' own timeout too (llm/factory.py).
    call_timeout_s: float = 30.0
    #: Background fills allowed at once; beyond that requests serve what is cached.
    max_background: int = 64
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class BreakerOpen(ScorerError):
    """The breaker refused the call; no provider traffic was sent."""


class ScoringService:
    """Wraps one Scorer with the cache, the budget and the protections above."""

    def __init__(
        self,
        scorer: Scorer,
        cache: Cache,
        policy: ScoringPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scorer = scorer
        self.policy = policy or ScoringPolicy()
        self._scores = ScoreCache(
            cache,
            scorer.provider,
            scorer.model,
            PROMPT_VERSION,
            self.policy.cache_ttl_seconds,
        )
        self._breaker = CircuitBreaker(self.policy.failure_threshold, self.policy.cooldown_s, clock)
        self._rate = RateBudget(self.policy.requests_per_minute, self.policy.tokens_per_minute)
        self._slots = asyncio.Semaphore(self.policy.max_concurrency)
        self._stats = CallStats()
        self._inflight: dict[tuple[str, frozenset[str]], asyncio.Task[dict[str, LLMScore]]] = {}
        self._misconfiguration_logged = False
        self.shed = 0
        self.provider = scorer.provider
        self.model = scorer.model
        start_llm_series(self.provider)

    async def score_within_budget(
        self,
        user: UserContext,
        candidates: Sequence[Candidate],
        budget_ms: int | None = None,
    ) -> dict[str, LLMScore]:
        """Scores ready within the budget (cached ones first); absent ids get ML only."""
        scorable = bool(user.recent) and not self._breaker.refusing
        if self.scorer.inline and not self.keeps_scores:
            # A database read and dot products, cheaper than the cache's round trips: no
            # budget to miss, no context digest to key the cache with.
            return await self._fill(user, "", candidates) if scorable and candidates else {}
        loop = asyncio.get_running_loop()
        budget_s = (self.policy.budget_ms if budget_ms is None else budget_ms) / 1000
        deadline = loop.time() + budget_s
        ctx = context_hash(user)
        ready = await self._scores.get_many(ctx, candidates)
        missing = [c for c in candidates if c.content_id not in ready]
        if not missing or not scorable:
            return ready
        if self.scorer.inline:  # a database read and dot products: no budget to miss
            ready.update(await self._fill(user, ctx, missing))
            return ready
        fill = self._start_fill(user, ctx, missing)
        remaining = deadline - loop.time()
        if fill is not None and remaining > 0:
            done, _ = await asyncio.wait({fill}, timeout=remaining)
            if fill in done and not fill.cancelled() and fill.exception() is None:
                ready.update(fill.result())
        if fill is None or not fill.done():  # shed, or late: answered without those scores
            LLM_BUDGET_EXCEEDED.labels(self.provider).inc()
        return ready

    async def precompute(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        """Score and cache everything not cached yet, waiting as long as it takes."""
        ctx = context_hash(user)
        ready = await self._scores.get_many(ctx, candidates)
        missing = [c for c in candidates if c.content_id not in ready]
        if missing and user.recent:
            ready.update(await self._join_or_fill(user, ctx, missing))
        return ready

    async def forget(self, user: UserContext) -> int:
        """Drop the scores cached for this user's context (a user's data is being erased)."""
        return await self._scores.forget(context_hash(user))

    @property
    def keeps_scores(self) -> bool:
        """Whether scores are cached, so that precomputing them ahead of requests pays."""
        return self.policy.cache_ttl_seconds > 0

    @property
    def breaker_state(self) -> BreakerState:
        return self._breaker.state

    def health(self) -> ScorerHealth:
        state = self._stats.state(self._breaker.state)
        return ScorerHealth(
            state=state,
            provider=self.provider,
            model=self.model,
            p50_latency_ms=self._stats.p50_ms(),
            calls=self._stats.calls,
            failures=self._stats.failures,
            detail=None if state == "ok" else self._stats.last_error,
        )

    async def warm_up(self) -> None:
        await self.scorer.warm_up()

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.scorer.close()

    async def _join_or_fill(
        self, user: UserContext, ctx: str, missing: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        task = self._inflight.get((ctx, frozenset(c.content_id for c in missing)))
        if task is not None:
            return await asyncio.shield(task)
        return await self._fill(user, ctx, missing)

    def _start_fill(
        self, user: UserContext, ctx: str, missing: Sequence[Candidate]
    ) -> asyncio.Task[dict[str, LLMScore]] | None:
        """The running fill for these candidates, or a new one; None when shedding load."""
        key = (ctx, frozenset(c.content_id for c in missing))
        task = self._inflight.get(key)
        if task is not None:
            return task
        if len(self._inflight) >= self.policy.max_background:
            self.shed += 1
            return None
        task = asyncio.create_task(self._fill(user, ctx, missing), name=f"llm-fill-{ctx[:8]}")
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return task

    async def _fill(
        self, user: UserContext, ctx: str, missing: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        """Provider scores for `missing`, cached as they arrive; failures leave gaps."""
        size = max(1, self.policy.batch_size)
        if len(missing) <= size:  # one call: no tasks to gather
            return await self._scored_batch(user, ctx, missing)
        batches = [missing[i : i + size] for i in range(0, len(missing), size)]
        results = await asyncio.gather(*(self._scored_batch(user, ctx, b) for b in batches))
        return {cid: s for part in results for cid, s in part.items()}

    async def _scored_batch(
        self, user: UserContext, ctx: str, batch: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        try:
            scores = await with_retries(lambda: self._call(user, batch), self.policy.retry)
        except (BreakerOpen, ScorerMisconfigured):  # the latter logged once, by `_failed`
            return {}
        except ScorerError as exc:
            log.warning("%s scorer failed: %s", self.provider, exc)
            return {}
        await self._scores.put_many(ctx, batch, scores)
        return scores

    async def _call(self, user: UserContext, batch: Sequence[Candidate]) -> dict[str, LLMScore]:
        """One guarded provider call; every outcome feeds the breaker and the stats."""
        if self._breaker.refusing:
            raise BreakerOpen("circuit breaker open")
        await self._rate.acquire(self.scorer.estimate_tokens(user, batch))
        async with self._slots:
            if not self._breaker.allow():
                raise BreakerOpen("circuit breaker open")
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.policy.call_timeout_s):
                    scores = await self.scorer.score(user, batch)
            except ScorerError as exc:
                self._failed(exc, _outcome(exc))
                raise
            except asyncio.CancelledError:
                self._breaker.record_cancelled()
                raise
            except TimeoutError as exc:
                self._failed(exc, "timeout")
                raise ScorerTimeout("provider call timed out") from exc
            except Exception as exc:  # a provider bug must not escape as a 500
                self._failed(exc)
                raise ScorerError(f"provider call crashed: {exc!r}") from exc
            self._breaker.record_success()
            self._misconfiguration_logged = False
            elapsed = time.perf_counter() - started
            self._stats.success(elapsed * 1000)
            record_llm_call(self.provider, "ok", elapsed)
            return scores

    def _failed(self, exc: BaseException, outcome: str = "error") -> None:
        record_llm_call(self.provider, outcome)
        self._stats.failure(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, ScorerRejected):  # the provider answered: it is up
            self._breaker.record_success()
        elif isinstance(exc, ScorerMisconfigured):
            self._breaker.record_misconfigured()
            if not self._misconfiguration_logged:
                log.error(
                    "%s scorer is misconfigured, language-model scores are off (tried again "
                    "every %g s): %s",
                    self.provider,
                    self.policy.cooldown_s,
                    exc,
                )
                self._misconfiguration_logged = True
        else:
            asked = exc.retry_after_s if isinstance(exc, ScorerError) else None
            self._breaker.record_failure(asked)


def _outcome(exc: ScorerError) -> str:
    """The `contextiq_llm_calls_total` outcome of a failed call."""
    if isinstance(exc, ScorerTimeout):
        return "timeout"
    if isinstance(exc, ScorerRejected):
        return "rejected"
    if isinstance(exc, ScorerMisconfigured):
        return "misconfigured"
    return "error"
