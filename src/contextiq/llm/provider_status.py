"""A provider's HTTP error status to the ScorerError that says what to do about it.

Both the OpenAI-compatible and the Bedrock client read their errors here, so that a bad key
stops the calls (not retried, breaker open), a refused request falls back to ML scores alone,
and only throttling and the provider's own failures are retried.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from contextiq.llm.base import (
    ScorerError,
    ScorerMisconfigured,
    ScorerRejected,
    ScorerThrottled,
    ScorerUnavailable,
)

#: The key, the access to the model, or the model's name is wrong.
MISCONFIGURED = frozenset({401, 403, 404})
#: This request's content was refused (too long, invalid for this model).
REJECTED = frozenset({400, 413, 422})
#: How much of an error body goes into the message.
DETAIL_CHARS = 200
HINT = "check CONTEXTIQ_LLM_URL (host, model) and the provider's credentials"


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the provider asks us to wait: `Retry-After` in seconds or as an HTTP date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def status_error(status: int, headers: Mapping[str, str], body: str) -> ScorerError:
    """The error for a reply with HTTP status `status` (not 2xx); `headers` case-insensitive."""
    detail = " ".join(body.split())[:DETAIL_CHARS]
    message = f"HTTP {status}: {detail}"
    if status in MISCONFIGURED:
        return ScorerMisconfigured(f"{message} ({HINT})")
    if status in REJECTED:
        return ScorerRejected(message)
    if status == 429:
        return ScorerThrottled(message, retry_after(headers))
    if status >= 500 or status == 408:
        return ScorerUnavailable(message, retry_after(headers))
    return ScorerError(message)
