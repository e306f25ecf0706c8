"""Mixing ML and language-model scores into the score a user sees."""

from dataclasses import dataclass

from contextiq.llm.base import LLMScore


@dataclass(frozen=True, slots=True)
class MixedScore:
    score: float
    ml_score: float
    llm_score: float | None
    reason: str


def mix_scores(
    ml_score: float, llm: LLMScore | None, ml_weight: float, ml_reason: str
) -> MixedScore:
    """`w*ml + (1-w)*llm`, or the ML score alone when there is no LLM score.

    `ml_score` must already be on the 0..1 scale. The reason is the model's
    when it gave one, else the caller's ML reason ("because you liked X").
    """
    if llm is None:
        return MixedScore(score=ml_score, ml_score=ml_score, llm_score=None, reason=ml_reason)
    score = ml_weight * ml_score + (1.0 - ml_weight) * llm.score
    return MixedScore(
        score=score, ml_score=ml_score, llm_score=llm.score, reason=llm.reason or ml_reason
    )
