"""Score a model on a split: ranking metrics over every item not seen in train, and RMSE/MAE."""

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from contextiq.ml.base import Recommender, WeightedInteraction
from contextiq.ml.diversity import intra_list_diversity, mmr, scaled
from contextiq.ml.holdout import sample_users
from contextiq.ml.metrics import (
    auc,
    average_precision_at_k,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from contextiq.ml.scoring import ScoringRecommender
from contextiq.progress import Quiet, Tracker

RANKING_METRICS = ("ndcg", "recall", "precision", "map", "hr")


class RankingModel(Protocol):
    """Anything that scores a fixed item universe for users given by id and history."""

    @property
    def item_ids(self) -> Sequence[str]: ...

    def score_users(
        self, users: Sequence[str], histories: Sequence[Mapping[str, float]]
    ) -> npt.NDArray[np.float32]: ...


class RecommenderRanking:
    """Adapts a `Recommender` (which only knows histories) to `RankingModel`."""

    def __init__(self, model: Recommender) -> None:
        self.model = model

    @property
    def item_ids(self) -> Sequence[str]:
        return self.model.item_ids

    def score_users(
        self, users: Sequence[str], histories: Sequence[Mapping[str, float]]
    ) -> npt.NDArray[np.float32]:
        if isinstance(self.model, ScoringRecommender):
            return self.model.score_histories(histories)
        n = len(self.model.item_ids)
        index = {item: j for j, item in enumerate(self.model.item_ids)}
        out = np.full((len(histories), n), -np.inf, np.float32)
        for row, history in enumerate(histories):
            ranked = self.model.recommend(history, n)
            for position, (item, _) in enumerate(ranked):
                out[row, index[item]] = n - position
        return out


def histories_by_user(interactions: Sequence[WeightedInteraction]) -> dict[str, dict[str, float]]:
    """Summed weights per (user, item), oldest first: the shape the service passes at call time.

    Events are ordered by timestamp when every event has one, else kept in the given order.
    """
    ordered: Sequence[WeightedInteraction] = interactions
    if all(e.timestamp is not None for e in interactions):
        times = np.fromiter((e.timestamp or 0.0 for e in interactions), np.float64, len(ordered))
        if np.any(times[1:] < times[:-1]):  # stored events arrive in time order: no sort then
            ordered = [interactions[j] for j in np.argsort(times, kind="stable").tolist()]
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for e in ordered:
        history = out[e.user_id]
        history[e.item_id] = history.pop(e.item_id, 0.0) + e.weight
    return dict(out)


def _best_first(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """The first k of a stable descending sort, without sorting the whole catalogue."""
    if len(scores) <= 4 * k:
        return np.argsort(-scores, kind="stable")[:k]
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    tied_or_better = np.flatnonzero(scores >= kth)
    return tied_or_better[np.argsort(-scores[tied_or_better], kind="stable")][:k]


def evaluate_ranking(
    model: RankingModel | Recommender,
    train: Sequence[WeightedInteraction] | Mapping[str, Mapping[str, float]],
    test: Sequence[WeightedInteraction],
    k: int = 10,
    candidates: Collection[str] | None = None,
    batch_size: int = 256,
    max_users: int = 0,
    seed: int = 0,
    diversity: float = 0.0,
    variety: bool = False,
    progress: Callable[[int], Tracker] | None = None,
    ndcg_by_user: list[float] | None = None,
) -> dict[str, float]:
    """Mean per-user metrics over test users with at least one positive held-out item.

    With `variety` and item embeddings (`Recommender.item_vectors`), also intra-list
    diversity (`ild@k`: mean pairwise cosine distance within a list) and `coverage@k` (the
    share of the catalogue in any list). `diversity` > 0 re-ranks each user's top items by
    maximal marginal relevance first, as `diversity=` does on requests.

    `train` is the training events, or their `histories_by_user` when several calls share
    them (building them takes seconds at millions of events). Every test event with a
    positive weight on an item the user has not in train is relevant. Items the user has
    in train are excluded from the ranking; `candidates` optionally limits the ranked
    universe. With `max_users`, a seeded sample of at most that many of those users is
    scored (what retraining does on a large catalogue).
    `progress` makes the display for the number of users to rank (`progress.track`).
    `ndcg_by_user` receives each judged user's nDCG@k, users sorted by id: two models judged
    on the same split and seed get the same users in the same order (paired comparisons).
    """
    ranking = RecommenderRanking(model) if isinstance(model, Recommender) else model
    histories = train if isinstance(train, Mapping) else histories_by_user(train)
    relevant: dict[str, set[str]] = defaultdict(set)
    for e in test:
        if e.weight > 0 and e.item_id not in histories.get(e.user_id, {}):
            relevant[e.user_id].add(e.item_id)
    users = sorted(relevant)
    users = [users[j] for j in sample_users(np.arange(len(users)), max_users, seed)]
    item_ids = list(ranking.item_ids)
    index = {item: j for j, item in enumerate(item_ids)}
    allowed = np.zeros(len(item_ids), dtype=bool)
    if candidates is None:
        allowed[:] = True
    else:
        allowed[[index[c] for c in candidates if c in index]] = True
    totals = dict.fromkeys([f"{m}@{k}" for m in RANKING_METRICS] + ["auc"], 0.0)
    vectors = None
    if (variety or diversity > 0) and isinstance(ranking, RecommenderRanking):
        vectors = _unit_vectors(ranking.model, item_ids)
    shown = np.zeros(len(item_ids), np.bool_)
    ild = 0.0
    with (progress or Quiet)(len(users)) as bar:
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            scores = ranking.score_users(batch, [histories.get(u, {}) for u in batch])
            for row, user in enumerate(batch):
                seen = np.fromiter(
                    (index[i] for i in histories.get(user, {}) if i in index), np.int64
                )
                mask = allowed.copy()
                mask[seen] = False
                user_scores = np.where(mask, scores[row], -np.inf).astype(np.float32)
                order = _best_first(user_scores, k)
                if diversity > 0 and vectors is not None:
                    pool = _best_first(user_scores, max(5 * k, 50))
                    pool = pool[np.isfinite(user_scores[pool])]
                    relevance = scaled(user_scores[pool].astype(np.float64))
                    sims = (vectors[pool] @ vectors[pool].T).astype(np.float64)
                    order = pool[mmr(relevance, k, diversity, sims)]
                order = order[mask[order]]
                ranked = [item_ids[j] for j in order]
                shown[order] = True
                if vectors is not None:
                    ild += intra_list_diversity(vectors[order])
                rel = relevant[user]
                ndcg = ndcg_at_k(ranked, rel, k)
                totals[f"ndcg@{k}"] += ndcg
                if ndcg_by_user is not None:
                    ndcg_by_user.append(ndcg)
                totals[f"recall@{k}"] += recall_at_k(ranked, rel, k)
                totals[f"precision@{k}"] += precision_at_k(ranked, rel, k)
                totals[f"map@{k}"] += average_precision_at_k(ranked, rel, k)
                totals[f"hr@{k}"] += hit_rate_at_k(ranked, rel, k)
                positives = np.fromiter((index[i] for i in rel if i in index), np.int64)
                negative_mask = mask.copy()
                negative_mask[positives] = False
                totals["auc"] += auc(user_scores, positives, np.flatnonzero(negative_mask))
            bar.advance(len(batch))
    metrics = {name: value / max(len(users), 1) for name, value in totals.items()}
    if vectors is not None:
        metrics[f"ild@{k}"] = ild / max(len(users), 1)
        metrics[f"coverage@{k}"] = float(shown.mean()) if len(shown) else 0.0
    return metrics


def _unit_vectors(model: Recommender, item_ids: Sequence[str]) -> npt.NDArray[np.float32] | None:
    """The model's item embeddings scaled to length 1, or None without any."""
    vectors = model.item_vectors(item_ids)
    if vectors is None:
        return None
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit
