"""The default pipeline: the PyTorch embedding model blended with EASE, mixed on validation.

Each family's scores are standardised per user before mixing, so the blend weight means
the same thing for every user. The weight (1.0 = embedding only, 0.0 = EASE only) and how
much a history's latest items count (`Recency`) are picked on a holdout carved from the
training data, like Gorse's AutoML picks a model.

The holdout has two parts when events carry timestamps: each user's latest event (what a
recommender is for: the next thing) and a random share of the rest (the user's broader
taste). Among the settings that lose at most `random_tolerance` of the best nDCG@10 on the
random part, the one with the best nDCG@10 on the latest events wins, so recency is used
as far as it helps the next event without forgetting the rest of the profile.
"""

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.data import IdMap, Recency, history_matrix, history_vector
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.evaluate import histories_by_user
from contextiq.ml.holdout import ranked_unseen, ranking_ndcg
from contextiq.ml.index import top_k
from contextiq.ml.protocols import leave_last_out, stratified_split
from contextiq.ml.scoring import ScoringRecommender


@dataclass(frozen=True)
class BlendConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    ease: EaseConfig = field(default_factory=EaseConfig)
    weight_grid: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
    recency_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
    random_tolerance: float = 0.01
    validation_fraction: float = 0.1
    seed: int = 0


def standardise(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Zero mean, unit spread along the last axis (per user), so families mix on one scale."""
    spread = scores.std(axis=-1, keepdims=True)
    spread[spread == 0] = 1.0
    centred: npt.NDArray[np.float32] = (scores - scores.mean(axis=-1, keepdims=True)) / spread
    return centred.astype(np.float32)


class BlendRecommender(ScoringRecommender):
    def __init__(self, config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        self.embedding = EmbeddingRecommender(self.config.embedding)
        self.ease = EaseRecommender(self.config.ease)
        self.weight = 1.0
        self._items = IdMap()

    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        cfg = self.config
        timed = all(i.timestamp is not None for i in interactions)
        rest, latest = leave_last_out(interactions, cfg.seed) if timed else (interactions, [])
        train, shuffled = stratified_split(rest, cfg.validation_fraction, cfg.seed)
        embedding = EmbeddingRecommender(replace(cfg.embedding, refit=False)).fit(train, items)
        ease = EaseRecommender(cfg.ease).fit(train, items)
        self.embedding, self.ease = embedding, ease
        self.weight, self.recency = self._choose(embedding, ease, train, shuffled, latest)
        self.refit(interactions, items)
        return self

    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Fit again with the settings the last `fit` chose (weight, recency, epochs, L2)."""
        if self.weight > 0:
            final = replace(
                self.embedding.config,
                validation_fraction=0.0,
                max_epochs=self.embedding.trained_epochs,
            )
            self.embedding = EmbeddingRecommender(final).fit(interactions, items)
        if self.weight < 1:
            final_ease = replace(self.ease.config, l2_grid=(self.ease.l2,))
            self.ease = EaseRecommender(final_ease).fit(interactions, items)
        self._items = self._fitted().item_map
        return self

    def _fitted(self) -> ScoringRecommender:
        return self.embedding if self.weight > 0 else self.ease

    def _choose(
        self,
        embedding: EmbeddingRecommender,
        ease: EaseRecommender,
        train: Sequence[WeightedInteraction],
        shuffled: Sequence[WeightedInteraction],
        latest: Sequence[WeightedInteraction],
    ) -> tuple[float, Recency]:
        """The (weight, recency) pair the module docstring's rule picks."""
        histories = histories_by_user(train)
        users = sorted({e.user_id for e in [*shuffled, *latest]})
        items = embedding.item_map
        held = [_fresh(users, histories, part, items) for part in (shuffled, latest)]
        grid = self.config.recency_grid if latest else (0.0,)
        candidates: list[tuple[float, float, float, Recency]] = []  # (random, latest, w, r)
        for boost in grid:
            recency = Recency(boost)
            seen = history_matrix([histories.get(u, {}) for u in users], items, recency)
            deep = standardise(embedding.score_matrix(seen))
            linear = standardise(ease.score_matrix(seen))
            for weight in self.config.weight_grid:
                ranked = ranked_unseen(weight * deep + (1 - weight) * linear, seen)
                shuffled_score, latest_score = (ranking_ndcg(ranked, h) for h in held)
                candidates.append((shuffled_score, latest_score, weight, recency))
        floor = max(c[0] for c in candidates) * (1 - self.config.random_tolerance)
        eligible = [c for c in candidates if c[0] >= floor]
        _, _, weight, recency = max(eligible, key=lambda c: (c[1], c[0]))
        return weight, recency

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if self.weight >= 1:
            return self.embedding.score_indices(indices, strengths)
        if self.weight <= 0:
            return self.ease.score_indices(indices, strengths)
        deep = standardise(self.embedding.score_indices(indices, strengths))
        linear = standardise(self.ease.score_indices(indices, strengths))
        return (self.weight * deep + (1 - self.weight) * linear).astype(np.float32)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        if self.weight >= 1:
            return self.embedding.score_matrix(strengths)
        if self.weight <= 0:
            return self.ease.score_matrix(strengths)
        deep = standardise(self.embedding.score_matrix(strengths))
        linear = standardise(self.ease.score_matrix(strengths))
        return (self.weight * deep + (1 - self.weight) * linear).astype(np.float32)

    def enable_ann(self, min_items: int) -> None:
        if self.weight > 0:
            self.embedding.enable_ann(min_items)

    def recommend(
        self, history: Mapping[str, float], k: int, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """With an ANN index: score only the embedding's nearest items and EASE's best, exactly."""
        if self.weight <= 0 or not self.embedding.uses_ann:
            return super().recommend(history, k, exclude)
        indices, strengths = history_vector(history, self._items, self.recency)
        excluded = self._indices(exclude)
        user = self.embedding.user_vector(indices, strengths)
        n = k + len(excluded)
        pool = self.embedding.nearest(user, n)
        if self.weight >= 1:
            return self._best_of(pool, self.embedding.pool_scores(user, pool), k, excluded)
        linear = self.ease.score_indices(indices, strengths)
        pool = np.union1d(pool, top_k(linear, n)[0])
        mean, spread = self.embedding.score_mean_std(user)
        deep = (self.embedding.pool_scores(user, pool) - mean) / (spread or 1.0)
        mixed = self.weight * deep + (1 - self.weight) * standardise(linear)[pool]
        return self._best_of(pool, mixed.astype(np.float32), k, excluded)

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        if self.weight > 0:
            self.embedding.add_items(items)
        if self.weight < 1:
            self.ease.add_items(items)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.weight > 0:
            self.embedding.save(path / "embedding")
        if self.weight < 1:
            self.ease.save(path / "ease")
        (path / "blend.json").write_text(
            json.dumps(
                {
                    "weight": self.weight,
                    "recency": asdict(self.recency),
                    "config": asdict(self.config),
                }
            )
        )

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / "blend.json").read_text())
        model = cls()
        model.weight = float(meta["weight"])
        model.recency = Recency(**meta.get("recency", {}))
        if model.weight > 0:
            model.embedding = EmbeddingRecommender.load(path / "embedding")
        if model.weight < 1:
            model.ease = EaseRecommender.load(path / "ease")
        model._items = model._fitted().__dict__["_items"]
        return model


def _fresh(
    users: Sequence[str],
    histories: dict[str, dict[str, float]],
    held: Sequence[WeightedInteraction],
    items: IdMap,
) -> sp.csr_matrix:
    """Rows of held-out positives per user that the user does not already have in train."""
    by_user = histories_by_user(held)
    rows = [
        {i: 1.0 for i, w in by_user.get(u, {}).items() if w > 0 and i not in histories.get(u, {})}
        for u in users
    ]
    return history_matrix(rows, items)
