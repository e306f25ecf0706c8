"""Language-model scoring: providers behind one Scorer, guarded by a ScoringService."""

from contextiq.llm.base import (
    Candidate,
    LikedItem,
    LLMScore,
    MalformedReply,
    Scorer,
    ScorerError,
    ScorerMisconfigured,
    ScorerRejected,
    ScorerThrottled,
    ScorerTimeout,
    ScorerUnavailable,
    UserContext,
)
from contextiq.llm.factory import SCORERS, build_scoring_service, open_scorer, policy_from_url
from contextiq.llm.health import ScorerHealth
from contextiq.llm.mix import MixedScore, mix_scores
from contextiq.llm.prompt import PROMPT_VERSION
from contextiq.llm.service import ScoringPolicy, ScoringService

__all__ = [
    "PROMPT_VERSION",
    "SCORERS",
    "Candidate",
    "LLMScore",
    "LikedItem",
    "MalformedReply",
    "MixedScore",
    "Scorer",
    "ScorerError",
    "ScorerHealth",
    "ScorerMisconfigured",
    "ScorerRejected",
    "ScorerThrottled",
    "ScorerTimeout",
    "ScorerUnavailable",
    "ScoringPolicy",
    "ScoringService",
    "UserContext",
    "build_scoring_service",
    "mix_scores",
    "open_scorer",
    "policy_from_url",
]
