"""Train a candidate model and decide whether it may replace the current one."""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from contextiq.ml.base import ItemFeatures, Recommender, WeightedInteraction
from contextiq.ml.evaluate import evaluate_ranking
from contextiq.ml.families import DEFAULT_MODEL, make_model
from contextiq.ml.holdout import JUDGED_USERS
from contextiq.ml.protocols import latest_per_user_split

log = logging.getLogger(__name__)

#: Share of each user's newest events held out to compare candidate and current model.
VALIDATION_FRACTION = 0.2
#: The current model may have been trained on some validation events, which flatters it;
#: a candidate within this relative margin of it on nDCG@10 still counts as "not worse".
PROMOTION_TOLERANCE = 0.02


@dataclass
class TrainReport:
    model: Recommender
    metrics: dict[str, float]
    current_metrics: dict[str, float] | None
    promote: bool
    train_seconds: float
    n_users: int
    n_items: int
    n_interactions: int


def is_not_worse(
    candidate: dict[str, float], current: dict[str, float] | None, tolerance: float
) -> bool:
    """Promotion rule: nDCG@10 within `tolerance` (relative) of the current model, or no current."""
    if current is None:
        return True
    return candidate["ndcg@10"] >= current["ndcg@10"] * (1.0 - tolerance)


def train_candidate(
    interactions: Sequence[WeightedInteraction],
    items: Sequence[ItemFeatures],
    current: Recommender | None,
    seed: int = 0,
    model: str = DEFAULT_MODEL,
) -> TrainReport:
    """Fit a `model` family on a split of the data, compare with `current`, refit on everything.

    The split holds out each user's newest events, the ones `current` (trained earlier) is
    least likely to have seen, so the comparison is as fair as the data allows. Both are
    scored on the same seeded sample of at most `JUDGED_USERS` validation users. The refit
    reuses what the candidate chose on validation (`Recommender.refit`).
    """
    started = time.perf_counter()
    candidate = make_model(model, seed)
    train, validation = latest_per_user_split(interactions, VALIDATION_FRACTION, seed)
    log.info("fitting a %s candidate on %d of %d events", model, len(train), len(interactions))
    candidate.fit_candidate(train, items)
    log.info("scoring candidate and serving model on %d held-out events", len(validation))
    metrics = evaluate_ranking(candidate, train, validation, max_users=JUDGED_USERS, seed=seed)
    current_metrics = (
        evaluate_ranking(current, train, validation, max_users=JUDGED_USERS, seed=seed)
        if current
        else None
    )
    log.info("refitting the candidate on all %d events", len(interactions))
    fitted = candidate.refit(interactions, items)
    return TrainReport(
        model=fitted,
        metrics=metrics,
        current_metrics=current_metrics,
        promote=is_not_worse(metrics, current_metrics, PROMOTION_TOLERANCE),
        train_seconds=time.perf_counter() - started,
        n_users=len({i.user_id for i in interactions}),
        n_items=len(fitted.item_ids),
        n_interactions=len(interactions),
    )
