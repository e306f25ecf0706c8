"""`CONTEXTIQ_LLM_URL` to a scorer and its scoring policy.

URL query options tune the policy per provider: `rpm`, `tpm` (per-minute
request and token budgets), `concurrency`, `batch` (candidates per call),
`ttl` (cache seconds), `timeout` (seconds per call).
"""

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from contextiq.cache.base import Cache
from contextiq.llm.base import Scorer
from contextiq.llm.service import ScoringPolicy, ScoringService

if TYPE_CHECKING:
    from contextiq.llm.item_vectors import ItemVectors
    from contextiq.store.store import Store

SCHEMES = ("local", "bedrock", "openai", "none")
_TRUE = {"1", "true", "yes", "on"}


def _options(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(f"unsupported LLM URL scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    return scheme


def build_scorer(
    url: str, api_key: str | None = None, vectors: "ItemVectors | None" = None
) -> Scorer | None:
    """The scorer the URL names, or None for `none://` (ML only).

    `local://` reads stored item vectors through `vectors` when given (see `item_vectors`).
    """
    scheme = _scheme(url)
    parts = urlsplit(url)
    options = _options(url)
    if scheme == "none":
        return None
    if scheme == "local":
        from contextiq.llm.local import LocalScorer

        return LocalScorer(vectors=vectors)
    if scheme == "bedrock":
        from contextiq.llm.bedrock import BedrockScorer

        # Model ids hold ':' and ARNs hold '/', so take the raw text, not the hostname.
        model_id = unquote(parts.netloc + parts.path)
        if not model_id:
            raise ValueError("bedrock:// URL needs a model id: bedrock://MODEL_ID?region=R")
        return BedrockScorer(model_id, options.get("region"), options.get("endpoint_url"))
    from contextiq.llm.openai_compat import OpenAICompatScorer

    model = options.get("model")
    if not model or not parts.netloc:
        raise ValueError("openai:// URL needs a host and a model: openai://HOST:PORT/v1?model=M")
    http = "https" if options.get("tls", "").lower() in _TRUE else "http"
    return OpenAICompatScorer(f"{http}://{parts.netloc}{parts.path}", model, api_key)


def policy_from_url(url: str, budget_ms: int) -> ScoringPolicy:
    """Defaults by provider kind, then any overrides from the URL's query."""
    scheme = _scheme(url)
    options = _options(url)
    policy = ScoringPolicy(budget_ms=budget_ms)
    if scheme == "local":
        # One model thread does the work; large batches amortise the forward pass.
        policy = replace(policy, batch_size=1_000, max_concurrency=1)
    return replace(
        policy,
        requests_per_minute=int(options.get("rpm", policy.requests_per_minute)),
        tokens_per_minute=int(options.get("tpm", policy.tokens_per_minute)),
        max_concurrency=int(options.get("concurrency", policy.max_concurrency)),
        batch_size=int(options.get("batch", policy.batch_size)),
        cache_ttl_seconds=float(options.get("ttl", policy.cache_ttl_seconds)),
        call_timeout_s=float(options.get("timeout", policy.call_timeout_s)),
    )


def item_vectors(url: str, store: "Store") -> "ItemVectors | None":
    """Stored item vectors for the `local://` scorer; other providers read item texts."""
    if _scheme(url) != "local":
        return None
    from contextiq.llm.item_vectors import ItemVectors

    return ItemVectors(store)


def build_scoring_service(
    url: str,
    api_key: str | None,
    cache: Cache,
    budget_ms: int,
    vectors: "ItemVectors | None" = None,
) -> ScoringService | None:
    """What the API and the worker hold: None means ML-only recommendations."""
    scorer = build_scorer(url, api_key, vectors)
    if scorer is None:
        return None
    return ScoringService(scorer, cache, policy_from_url(url, budget_ms))
