"""`CONTEXTIQ_LLM_URL` to a scorer and its scoring policy.

URL query options tune the policy per provider: `rpm`, `tpm` (per-minute
request and token budgets), `concurrency`, `batch` (candidates per call),
`ttl` (cache seconds), `timeout` (seconds per call, 60 by default; the provider client's own
timeout too).
"""

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from contextiq.backends import SchemeRegistry
from contextiq.cache.base import Cache
from contextiq.llm.base import Scorer
from contextiq.llm.service import ScoringPolicy, ScoringService

if TYPE_CHECKING:
    from contextiq.llm.item_vectors import ItemVectors
    from contextiq.store.store import Store

_TRUE = {"1", "true", "yes", "on"}


def _options(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _call_timeout(url: str) -> float:
    """Seconds one provider call may take: the URL's `timeout`, else the policy's default."""
    return float(_options(url).get("timeout", ScoringPolicy().call_timeout_s))


def _none(url: str, api_key: str | None) -> Scorer | None:
    """`none://`: ML-only recommendations."""
    return None


def _local(url: str, api_key: str | None, vectors: "ItemVectors | None" = None) -> Scorer | None:
    """`local://`: the bundled model, in process; stored item vectors through `vectors`."""
    from contextiq.llm.local import LocalScorer

    return LocalScorer(vectors=vectors)


def _bedrock(url: str, api_key: str | None) -> Scorer | None:
    """`bedrock://MODEL_ID?region=R[&endpoint_url=U]`: AWS credentials from the environment."""
    from contextiq.llm.bedrock import BedrockScorer

    parts, options = urlsplit(url), _options(url)
    # Model ids hold ':' and ARNs hold '/', so take the raw text, not the hostname.
    model_id = unquote(parts.netloc + parts.path)
    if not model_id:
        raise ValueError("bedrock:// URL needs a model id: bedrock://MODEL_ID?region=R")
    return BedrockScorer(
        model_id, options.get("region"), options.get("endpoint_url"), _call_timeout(url)
    )


def _openai(url: str, api_key: str | None) -> Scorer | None:
    """`openai://HOST:PORT/v1?model=M[&tls=1]`: any OpenAI-compatible chat endpoint."""
    from contextiq.llm.openai_compat import OpenAICompatScorer

    parts, options = urlsplit(url), _options(url)
    model = options.get("model")
    if not model or not parts.netloc:
        raise ValueError("openai:// URL needs a host and a model: openai://HOST:PORT/v1?model=M")
    http = "https" if options.get("tls", "").lower() in _TRUE else "http"
    base_url = f"{http}://{parts.netloc}{parts.path}"
    return OpenAICompatScorer(base_url, model, api_key, _call_timeout(url))


SCORERS = SchemeRegistry[Callable[[str, str | None], Scorer | None]](
    "LLM", {"local": _local, "bedrock": _bedrock, "openai": _openai, "none": _none}
)


def open_scorer(
    url: str, api_key: str | None = None, vectors: "ItemVectors | None" = None
) -> Scorer | None:
    """The scorer the URL names, or None for `none://`; `UnknownScheme` lists the known ones.

    `local://` reads stored item vectors through `vectors` when given (llm/item_vectors.py).
    """
    factory = SCORERS.factory(url)
    return _local(url, api_key, vectors) if factory is _local else factory(url, api_key)


def item_vectors(url: str, store: "Store", background: bool = False) -> "ItemVectors | None":
    """Stored item vectors for the `local://` scorer; other providers read item texts.

    `background`: the model thread runs niced, for processes that serve requests.
    """
    if SCORERS.factory(url) is not _local:
        return None
    from contextiq.llm.item_vectors import ItemVectors

    return ItemVectors(store, background=background)


def policy_from_url(url: str, budget_ms: int) -> ScoringPolicy:
    """Defaults by provider kind, then any overrides from the URL's query."""
    SCORERS.factory(url)  # the same check as open_scorer, before any default is chosen
    options = _options(url)
    policy = ScoringPolicy(budget_ms=budget_ms)
    if urlsplit(url).scheme == "local":
        # Stored vectors and a few dot products cost less than the score cache's round trips
        # (docs/benchmarks.md, "Item vectors"), so nothing is cached or precomputed, and
        # Requests read vectors concurrently; the model thread is never theirs.
        policy = replace(policy, batch_size=1_000, max_concurrency=64, cache_ttl_seconds=0.0)
    return replace(
        policy,
        requests_per_minute=int(options.get("rpm", policy.requests_per_minute)),
        tokens_per_minute=int(options.get("tpm", policy.tokens_per_minute)),
        max_concurrency=int(options.get("concurrency", policy.max_concurrency)),
        batch_size=int(options.get("batch", policy.batch_size)),
        cache_ttl_seconds=float(options.get("ttl", policy.cache_ttl_seconds)),
        call_timeout_s=_call_timeout(url),
    )


def build_scoring_service(
    url: str,
    api_key: str | None,
    cache: Cache,
    budget_ms: int,
    vectors: "ItemVectors | None" = None,
) -> ScoringService | None:
    """What the API and the worker hold: None means ML-only recommendations."""
    scorer = open_scorer(url, api_key, vectors)
    if scorer is None:
        return None
    return ScoringService(scorer, cache, policy_from_url(url, budget_ms))
