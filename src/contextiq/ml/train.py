"""Train a candidate model and decide whether it may replace the current one."""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contextiq.config import DEFAULT_MODEL
from contextiq.ml.base import ItemFeatures, Recommender, WeightedInteraction
from contextiq.ml.blend_choice import gain_bound
from contextiq.ml.evaluate import evaluate_ranking, histories_by_user
from contextiq.ml.families import make_model
from contextiq.ml.holdout import JUDGED_USERS
from contextiq.ml.protocols import latest_per_user_split

log = logging.getLogger(__name__)

#: Share of each user's newest events held out to judge the candidate.
VALIDATION_FRACTION = 0.2
#: A candidate within this relative margin of the current model on nDCG@10 still counts as
#: "not worse"...
PROMOTION_TOLERANCE = 0.02
#: ...and so does one that trails it by less than this many standard errors of the paired
#: per-user difference: a few hundred users are a noisy sample, and a rejection keeps a stale
#: model serving until the next round.
REJECTION_MARGIN = 2.0
#: Fewer users than this with held-out events newer than the current model: no comparison.
MIN_COMPARED_USERS = 200


@dataclass
class TrainReport:
    model: Recommender
    #: The candidate on all held-out events.
    metrics: dict[str, float]
    #: The current model on the held-out events newer than its own training (None: no
    #: comparison); `compared_metrics` is the candidate on those same events.
    current_metrics: dict[str, float] | None
    promote: bool
    train_seconds: float
    n_users: int
    n_items: int
    n_interactions: int
    compared_metrics: dict[str, float] | None = None
    #: The newest event time the model was fitted on (None: untimed events).
    trained_until: float | None = None
    #: The family name it was made from (`make_model`).
    family: str | None = None


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
    current_until: float | None = None,
) -> TrainReport:
    """Fit a `model` family on a split of the data, compare with `current`, refit on everything.

    The split holds out each user's newest events. `current` was trained on everything up to
    `current_until` (its `TrainReport.trained_until`), held-out events included, and scores
    them as if it had predicted them: so the two are compared only on held-out events newer
    than that, which neither has seen, and only when at least `MIN_COMPARED_USERS` users have
    some (else the candidate is promoted, as the first model is). Both are scored on the same
    seeded sample of at most `JUDGED_USERS` of those users, and the candidate is rejected only
    when it trails by more than `PROMOTION_TOLERANCE` and beyond the noise of that sample
    (`REJECTION_MARGIN`). The refit reuses what the candidate chose on validation
    (`Recommender.refit`).
    """
    started = time.perf_counter()
    candidate = make_model(model, seed)
    train, validation = latest_per_user_split(interactions, VALIDATION_FRACTION, seed)
    log.info("fitting a %s candidate on %d of %d events", model, len(train), len(interactions))
    candidate.fit_candidate(train, items)
    log.info("scoring the candidate on %d held-out events", len(validation))
    histories = histories_by_user(train)  # built once for up to three scorings
    metrics = evaluate_ranking(candidate, histories, validation, max_users=JUDGED_USERS, seed=seed)
    compared: dict[str, float] | None = None
    current_metrics: dict[str, float] | None = None
    promote = True
    if current is not None:
        unseen = unseen_by(current_until, validation)
        if len({e.user_id for e in unseen}) >= MIN_COMPARED_USERS:
            log.info("comparing with the serving model on %d newer held-out events", len(unseen))
            ours: list[float] = []
            theirs: list[float] = []
            compared = evaluate_ranking(
                candidate, histories, unseen, max_users=JUDGED_USERS, seed=seed, ndcg_by_user=ours
            )
            current_metrics = evaluate_ranking(
                current, histories, unseen, max_users=JUDGED_USERS, seed=seed, ndcg_by_user=theirs
            )
            promote = is_not_worse(compared, current_metrics, PROMOTION_TOLERANCE) or not (
                trails_beyond_noise(ours, theirs, REJECTION_MARGIN)
            )
        else:
            log.info("too few held-out events newer than the serving model to compare with it")
    del histories  # before the refit, the largest allocation
    log.info("refitting the candidate on all %d events", len(interactions))
    fitted = candidate.refit(interactions, items)
    return TrainReport(
        model=fitted,
        metrics=metrics,
        current_metrics=current_metrics,
        promote=promote,
        train_seconds=time.perf_counter() - started,
        n_users=len({i.user_id for i in interactions}),
        n_items=len(fitted.item_ids),
        n_interactions=len(interactions),
        compared_metrics=compared,
        trained_until=max(
            (e.timestamp for e in interactions if e.timestamp is not None), default=None
        ),
        family=model,
    )


def trails_beyond_noise(
    candidate: Sequence[float], current: Sequence[float], margin: float
) -> bool:
    """Whether the current model's per-user lead (the same users, in the same order) holds
    by more than `margin` standard errors of the paired difference."""
    return gain_bound(np.asarray(current), np.asarray(candidate), margin) > 0


def unseen_by(
    trained_until: float | None, events: Sequence[WeightedInteraction]
) -> list[WeightedInteraction]:
    """The events newer than a model's training; none when its cutoff or their time is unknown."""
    if trained_until is None:
        return []
    return [e for e in events if e.timestamp is not None and e.timestamp > trained_until]
