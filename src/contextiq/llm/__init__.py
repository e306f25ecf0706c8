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
from contextiq.llm.blend import DEFAULT_ML_WEIGHT, BlendedScore, blend
from contextiq.llm.factory import build_scorer, build_scoring_service, policy_from_url
from contextiq.llm.health import ScorerHealth
from contextiq.llm.prompt import PROMPT_VERSION
from contextiq.llm.service import ScoringPolicy, ScoringService

__all__ = [
    "DEFAULT_ML_WEIGHT",
    "PROMPT_VERSION",
    "BlendedScore",
    "Candidate",
    "LLMScore",
    "LikedItem",
    "MalformedReply",
    "Scorer",
    "ScorerError",
    "ScorerHealth",
    "ScorerThrottled",
    "ScorerUnavailable",
    "ScoringPolicy",
    "ScoringService",
    "UserContext",
    "blend",
    "build_scorer",
    "build_scoring_service",
    "policy_from_url",
]
