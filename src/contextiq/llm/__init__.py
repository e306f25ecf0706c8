"""Language-model scoring: providers behind one Scorer, guarded by a ScoringService."""

from contextiq.llm.base import (
    Candidate,
    LikedItem,
    LLMScore,
    MalformedReply,
    Scorer,
    ScorerError,
    ScorerThrottled,
    ScorerUnavailable,
    UserContext,
)
from contextiq.llm.factory import build_scorer, build_scoring_service, policy_from_url
from contextiq.llm.health import ScorerHealth
from contextiq.llm.mix import MixedScore, mix_scores
from contextiq.llm.prompt import PROMPT_VERSION
from contextiq.llm.service import ScoringPolicy, ScoringService

__all__ = [
    "PROMPT_VERSION",
    "Candidate",
    "LLMScore",
    "LikedItem",
    "MalformedReply",
    "MixedScore",
    "Scorer",
    "ScorerError",
    "ScorerHealth",
    "ScorerThrottled",
    "ScorerUnavailable",
    "ScoringPolicy",
    "ScoringService",
    "UserContext",
    "build_scorer",
    "build_scoring_service",
    "mix_scores",
    "policy_from_url",
]
