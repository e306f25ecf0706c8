"""`CONTEXTIQ_LLM_URL` to a scorer and its scoring policy.

URL query options tune the policy per provider: `rpm`, `tpm` (per-minute
request and token budgets), `concurrency`, `batch` (candidates per call),
`ttl` (cache seconds), `timeout` (seconds per call, 30 by default; the provider client's own
timeout too). Any other option is refused at start-up: a misspelt `rmp=60` would leave the
provider without the budget it was meant to have.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from contextiq.backends import SchemeRegistry
from contextiq.cache.base import Cache
from contextiq.llm.base import Scorer
from contextiq.llm.service import ScoringPolicy, ScoringService

if TYPE_CHECKING:
    from contextiq.llm.item_vectors import ItemVectors
    from contextiq.store.store import Store

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: Query options every provider's URL takes: its scoring policy's (`policy_from_url`).
POLICY_OPTIONS = ("rpm", "tpm", "concurrency", "batch", "ttl", "timeout")
#: And each provider's own, by scheme.
PROVIDER_OPTIONS = {"openai": ("model", "tls"), "bedrock": ("region", "endpoint_url")}
#: The shortest `timeout` accepted: a call needs some time to be answered at all.
MIN_TIMEOUT_S = 0.01


def _options(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _number(url: str, name: str, default: float, minimum: float) -> float:
    """A numeric URL option; a typo or a value below `minimum` is refused naming the option,
    at start-up (`check_url`), not when the first call or the worker trips over it."""
    raw = _options(url).get(name)
    if raw is None:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"LLM URL option {name}={raw!r} is not a number") from None
    if not value >= minimum:  # NaN too
        raise ValueError(f"LLM URL option {name}={raw!r} must be at least {minimum:g}")
    return value


def _count(url: str, name: str, default: int, minimum: int) -> int:
    value = _number(url, name, default, minimum)
    if not value.is_integer():
        raise ValueError(f"LLM URL option {name}={value:g} is not a whole number")
    return int(value)


def _call_timeout(url: str) -> float:
    """Seconds one provider call may take: the URL's `timeout`, else the policy's default."""
    return _number(url, "timeout", ScoringPolicy().call_timeout_s, MIN_TIMEOUT_S)


def _port_checked(parts: SplitResult, what: str) -> None:
    """A port that is not a number up to 65535 fails every call (a crash in the client, not a
    connection error), so it is refused at start-up."""
    try:
        _ = parts.port  # the property parses it
    except ValueError as exc:
        raise ValueError(f"{what} has a bad port: {exc}") from None


def _none(url: str, api_key: str | None) -> Scorer | None:
    """`none://`: ML-only recommendations."""
    return None


def _local(url: str, api_key: str | None, vectors: "ItemVectors | None" = None) -> Scorer | None:
    """`local://`: the bundled model, in process; stored item vectors through `vectors`."""
    from contextiq.llm.local import LocalScorer

    return LocalScorer(vectors=vectors)


def _bedrock_target(url: str) -> tuple[str, str | None, str | None]:
    """Model id, region (None: the AWS environment's) and endpoint of a `bedrock://` URL."""
    parts, options = urlsplit(url), _options(url)
    # Model ids hold ':' and ARNs hold '/', so take the raw text, not the hostname.
    model_id = unquote(parts.netloc + parts.path)
    if not model_id:
        raise ValueError("bedrock:// URL needs a model id: bedrock://MODEL_ID?region=R")
    endpoint = options.get("endpoint_url")
    if endpoint is not None:
        target = urlsplit(endpoint)
        if target.scheme not in ("http", "https") or not target.hostname:
            raise ValueError(
                f"bedrock:// URL option endpoint_url={endpoint!r} is not an http:// or https:// URL"
            )
        _port_checked(target, "bedrock:// URL option endpoint_url")
    return model_id, options.get("region"), endpoint


def _bedrock(url: str, api_key: str | None) -> Scorer | None:
    """`bedrock://MODEL_ID?region=R[&endpoint_url=U]`: AWS credentials from the environment."""
    from contextiq.llm.bedrock import BedrockScorer

    return BedrockScorer(*_bedrock_target(url), _call_timeout(url))


def _openai_target(url: str) -> tuple[str, str]:
    """Base URL and model of an `openai://` URL."""
    parts, options = urlsplit(url), _options(url)
    model = options.get("model")
    if not model or not parts.netloc:
        raise ValueError("openai:// URL needs a host and a model: openai://HOST:PORT/v1?model=M")
    _port_checked(parts, "openai:// URL")
    tls = options.get("tls", "0")
    if tls.lower() not in _TRUE | _FALSE:  # a typo must not send the key in the clear
        raise ValueError(f"LLM URL option tls={tls!r} is neither 1/true/yes/on nor 0/false/no/off")
    http = "https" if tls.lower() in _TRUE else "http"
    return f"{http}://{parts.netloc}{parts.path}", model


def _openai(url: str, api_key: str | None) -> Scorer | None:
    """`openai://HOST:PORT/v1?model=M[&tls=1]`: any OpenAI-compatible chat endpoint."""
    from contextiq.llm.openai_compat import OpenAICompatScorer

    return OpenAICompatScorer(*_openai_target(url), api_key, _call_timeout(url))


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
    policy = ScoringPolicy(budget_ms=budget_ms)
    if urlsplit(url).scheme == "local":
        # Stored vectors and a few dot products cost less than the score cache's round trips
        # (docs/benchmarks.md, "Item vectors"), so nothing is cached or precomputed, and
        # Requests read vectors concurrently; the model thread is never theirs.
        policy = replace(policy, batch_size=1_000, max_concurrency=64, cache_ttl_seconds=0.0)
    return replace(
        policy,
        requests_per_minute=_count(url, "rpm", policy.requests_per_minute, 0),
        tokens_per_minute=_count(url, "tpm", policy.tokens_per_minute, 0),
        # 0 calls at once would leave every call waiting for a slot forever.
        max_concurrency=_count(url, "concurrency", policy.max_concurrency, 1),
        batch_size=_count(url, "batch", policy.batch_size, 1),
        cache_ttl_seconds=_number(url, "ttl", policy.cache_ttl_seconds, 0),
        call_timeout_s=_call_timeout(url),
    )


def check_url(url: str) -> None:
    """Refuse at start-up what `build_scoring_service` would refuse, without opening a client:
    an unknown scheme, a missing model, an unknown or bad option, a Bedrock URL with no region
    anywhere."""
    factory = SCORERS.factory(url)
    known = (*POLICY_OPTIONS, *PROVIDER_OPTIONS.get(urlsplit(url).scheme, ()))
    unknown = sorted(set(_options(url)) - set(known))
    if unknown:
        raise ValueError(f"LLM URL: unknown option {', '.join(unknown)}; known: {', '.join(known)}")
    policy_from_url(url, 0)
    if factory is _openai:
        _openai_target(url)
    elif factory is _bedrock and _bedrock_target(url)[1] is None:
        import boto3

        if boto3.session.Session().region_name is None:  # env and config files, no network
            raise ValueError(
                "bedrock:// URL needs ?region=R (or AWS_DEFAULT_REGION, or an AWS config file)"
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
