"""Strict parsing of a model's listwise reply into scores."""

import json
import math
from collections.abc import Collection

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from contextiq.llm.base import LLMScore, MalformedReply

MAX_REASON_CHARS = 200


class ReplyItem(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)

    content_id: str = Field(min_length=1, max_length=256)
    score: float
    reason: str = Field(default="", max_length=2_000)

    @field_validator("score", mode="before")
    @classmethod
    def _not_a_yes_or_no(cls, value: object) -> object:
        """Lax floats take `true` as 1.0: a model answering yes/no did not grade the match."""
        if isinstance(value, bool):
            raise ValueError("a score is a number from 0 to 1, not true or false")
        return value


_REPLY = TypeAdapter(list[ReplyItem])


def _strip_fence(text: str) -> str:
    """Accept one Markdown code fence around the JSON, a habit of chat models."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and len(stripped) >= 6:
        inner = stripped[3:-3]
        first_newline = inner.find("\n")
        if first_newline != -1 and inner[:first_newline].strip().isalpha():
            inner = inner[first_newline + 1 :]
        return inner.strip()
    return stripped


def _printable(reason: str) -> str:
    """One line of what prints: clients show the reason as it is, so control characters
    (terminal escapes, NUL), invisible ones and direction overrides are dropped."""
    return " ".join("".join(c for c in reason if c.isprintable() or c.isspace()).split())


def parse_reply(text: str, candidate_ids: Collection[str]) -> dict[str, LLMScore]:
    """Scores for known candidates, clamped to 0..1; anything off-schema raises MalformedReply."""
    try:
        raw = json.loads(_strip_fence(text))
        items = _REPLY.validate_python(raw)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise MalformedReply(f"reply is not the expected JSON array: {exc}") from None
    known = set(candidate_ids)
    scores: dict[str, LLMScore] = {}
    for item in items:
        if item.content_id not in known or item.content_id in scores:
            continue
        if not math.isfinite(item.score):
            raise MalformedReply(f"non-finite score for {item.content_id!r}")
        clamped = min(1.0, max(0.0, item.score))
        reason = _printable(item.reason)[:MAX_REASON_CHARS]
        scores[item.content_id] = LLMScore(score=clamped, reason=reason)
    if known and not scores:
        raise MalformedReply("reply scored none of the candidates")
    return scores
