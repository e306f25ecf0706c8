"""The one interface every language-model provider implements."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LikedItem:
    """One of the user's recent positive items; `weight` lets stronger signals count more."""

    title: str
    category: str
    tags: tuple[str, ...] = ()
    weight: float = 1.0
    #: Set when the item is in the catalogue: its stored vector can stand in for its text.
    content_id: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class UserContext:
    """What the scorer may know about a user: their recent positive items."""

    user_id: str
    recent: tuple[LikedItem, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    content_id: str
    title: str
    category: str
    tags: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class LLMScore:
    score: float  # clamped to 0..1
    reason: str


class ScorerError(Exception):
    """A provider call failed; the caller serves ML-only scores instead.

    `retryable` marks transient failures (throttling, timeouts, 5xx) that are
    worth another attempt after a backoff; a malformed reply is not. `retry_after_s` is how
    long the provider asked us to wait (`Retry-After`), when it said.
    """

    retryable: bool = False

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ScorerThrottled(ScorerError):
    """The provider asked us to slow down (HTTP 429 / ThrottlingException)."""

    retryable = True


class ScorerUnavailable(ScorerError):
    """The provider could not be reached or failed on its side."""

    retryable = True


class ScorerTimeout(ScorerUnavailable):
    """No answer within the call timeout, whichever timer saw it first (the client's or the
    service's): counted as a timeout in the metrics, and retried like any transient failure."""


class ScorerMisconfigured(ScorerError):
    """The provider refused our key, our access to the model, or the model itself (HTTP 401,
    403, 404): no retry or wait fixes that, only the operator, so the breaker opens at once."""


class ScorerRejected(ScorerError):
    """The provider refused this request's content (HTTP 400, 413, 422): it is up and our
    setup is fine, so the request is served unrescored without counting against the breaker."""


class MalformedReply(ScorerError):
    """The model's reply was not the strict JSON the prompt asked for."""


class Scorer(ABC):
    """Scores candidates for contextual relevance to a user."""

    provider: str
    model: str
    #: Scoring is in-process work as cheap as a database read (`local://` with stored vectors):
    #: requests await it in full rather than within the provider budget.
    inline: bool = False

    @abstractmethod
    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        """Scores keyed by content_id; ids it could not score are simply absent.

        Raises ScorerError (or a subclass) on failure, never anything else.
        """

    def estimate_tokens(self, user: UserContext, candidates: Sequence[Candidate]) -> int:
        """Tokens one call will spend, for the per-minute budget; 0 for local models."""
        return 0

    async def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Load weights or open clients before the first request needs them."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and threads."""
