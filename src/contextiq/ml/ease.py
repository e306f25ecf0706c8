"""EASE (Steck 2019): a closed-form item-item linear autoencoder, computed with torch.

Scores are history @ B, so it folds users in exactly like the embedding model. Only the
`max_items` most popular items get a learned row/column (the inverse is cubic in the
item count); the rest score zero. New items borrow B columns and rows from the learned
items whose content features they share; those borrowed rows and columns are kept apart
from B, so adding an item never copies B (memory-mapped and shared when served).
"""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.data import IdMap, build_matrix, dense_scores, strength_matrix
from contextiq.ml.features import FeatureVocabulary
from contextiq.ml.holdout import holdout_positives, judged_ndcg
from contextiq.ml.rows import GrowingRows, load_array, save_arrays
from contextiq.ml.scale import LARGE_EVENTS
from contextiq.ml.scoring import FoldInRecommender

#: How many content neighbours a new item borrows its weights from.
CONTENT_NEIGHBOURS = 20


@dataclass(frozen=True)
class EaseConfig:
    l2_grid: tuple[float, ...] = field(default=(50.0, 150.0, 400.0, 1000.0))
    max_items: int = 6000
    validation_fraction: float = 0.1
    #: Seeded random holdouts whose mean nDCG picks the L2: on one, the grid's neighbours
    #: often differ by less than the holdout's noise (docs/benchmarks.md).
    validation_folds: int = 3
    seed: int = 0
    #: On large data (`scale.LARGE_EVENTS`), L2 is chosen on at most this many of the most
    #: popular items, and the full inverse is solved once, with the chosen L2.
    choice_items: int = 2000


def ease_weights(gram: torch.Tensor, l2: float) -> torch.Tensor:
    """B = I - P diag(1/diag(P)) with P = (G + l2 I)^-1, zero diagonal.

    G + l2 I is symmetric positive definite, so a Cholesky inverse does it at half the cost.
    """
    regularised = gram + l2 * torch.eye(gram.shape[0], dtype=gram.dtype)
    precision = torch.cholesky_inverse(torch.linalg.cholesky(regularised))
    weights: torch.Tensor = -precision / torch.diag(precision)
    weights.fill_diagonal_(0.0)
    return weights


class EaseRecommender(FoldInRecommender):
    def __init__(self, config: EaseConfig | None = None) -> None:
        self.config = config or EaseConfig()
        self._items = IdMap()
        self._vocab = FeatureVocabulary()
        self._modelled = np.zeros(0, np.int64)
        self._position = np.zeros(0, np.int64)
        self._weights: npt.NDArray[np.float32] = np.zeros((0, 0), np.float32)
        self._item_features = sp.csr_matrix(np.zeros((0, 0), np.float32))
        self._new_items()
        self.l2 = self.config.l2_grid[0]

    def _new_items(self) -> None:
        """No items added since fit: for those, B's borrowed rows and columns (transposed)."""
        self._added_rows = GrowingRows(np.zeros((0, len(self._modelled)), np.float32))
        self._added_columns = GrowingRows(np.zeros((0, len(self._modelled)), np.float32))

    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        data = build_matrix(interactions, (i.item_id for i in items))
        self._items = data.items
        by_id = {i.item_id: i for i in items}
        self._vocab = FeatureVocabulary.fit(items)
        self._item_features = self._vocab.encode([by_id.get(i) for i in data.items.ids])
        history = strength_matrix(data.weights)
        popularity = np.asarray((history > 0).sum(axis=0)).ravel()
        ranked = np.argsort(-popularity, kind="stable")[: self.config.max_items]
        self._modelled = np.sort(ranked[popularity[ranked] > 0]).astype(np.int64)
        self._position = np.full(len(self._items), -1, np.int64)
        self._position[self._modelled] = np.arange(len(self._modelled))
        choice = self._modelled
        if history.nnz >= LARGE_EVENTS and len(choice) > self.config.choice_items:
            choice = np.sort(ranked[: self.config.choice_items]).astype(np.int64)
        self.l2 = self._choose_l2(history, choice)
        self._weights = self._solve(history, self.l2)
        self._new_items()
        return self

    @staticmethod
    def _gram(history: sp.csr_matrix, columns: npt.NDArray[np.int64]) -> torch.Tensor:
        x = history.maximum(0).tocsc()[:, columns]
        return torch.from_numpy((x.T @ x).toarray().astype(np.float64))

    def _solve(self, history: sp.csr_matrix, l2: float) -> npt.NDArray[np.float32]:
        """Row-major float32: serving gathers the rows of the history's items."""
        weights = ease_weights(self._gram(history, self._modelled), l2).numpy()
        return np.ascontiguousarray(weights, dtype=np.float32)

    def _choose_l2(self, history: sp.csr_matrix, columns: npt.NDArray[np.int64]) -> float:
        """The grid's L2 with the best mean nDCG over the validation folds (one on large
        data, whose holdout is large enough), with B learnt over `columns`."""
        cfg = self.config
        if len(cfg.l2_grid) == 1 or cfg.validation_fraction <= 0:
            return cfg.l2_grid[0]
        folds = 1 if history.nnz >= LARGE_EVENTS else cfg.validation_folds
        totals = sum(self._judge_grid(history, columns, cfg.seed + fold) for fold in range(folds))
        return cfg.l2_grid[int(np.argmax(totals))]

    def _judge_grid(
        self, history: sp.csr_matrix, columns: npt.NDArray[np.int64], seed: int
    ) -> npt.NDArray[np.float64]:
        """Each grid L2's nDCG on one seeded holdout; items outside `columns` score 0."""
        train, held = holdout_positives(history, self.config.validation_fraction, seed)
        gram = self._gram(train, columns)
        inputs = train[:, columns].tocsr()
        judged = []
        for l2 in self.config.l2_grid:
            weights = ease_weights(gram, l2).numpy().astype(np.float32)

            def scores(users: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
                rows = np.zeros((len(users), train.shape[1]), np.float32)
                rows[:, columns] = inputs[users] @ weights  # noqa: B023 (used at once)
                return rows

            judged.append(judged_ndcg(scores, train, held, seed))
        return np.array(judged)

    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Fit again with the L2 the last `fit` chose."""
        self.config = replace(self.config, l2_grid=(self.l2,))
        return self.fit(interactions, items)

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        return dense_scores(len(self._items), *self.sparse_scores(indices, strengths))

    def sparse_scores(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The items EASE can score (sorted indices) and their scores; every other item is 0.

        What a large catalogue's request costs: `max_items` columns, not the catalogue. A
        history with no item EASE knows scores nothing (no items: all of them are 0).
        """
        fitted = len(self._position)
        old = indices < fitted
        positions = self._position[indices[old]]
        known = positions >= 0
        rows, weights = positions[known], strengths[old][known]
        added, added_weights = indices[~old] - fitted, strengths[~old]
        if not len(rows) and not len(added):  # no item EASE knows: nothing to say
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        values = np.zeros(len(self._modelled), np.float32)
        if len(rows):
            values += weights @ self._weights[rows]
        if len(added):
            values += added_weights @ self._added_rows[added]
        if not len(self._added_columns):
            return self._modelled, values
        extra = np.zeros(len(self._added_columns), np.float32)
        if len(rows):
            extra = self._added_columns.columns(rows) @ weights
        scored = np.concatenate([self._modelled, np.arange(fitted, len(self._items))])
        return scored, np.concatenate([values, extra]).astype(np.float32)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        scores: npt.NDArray[np.float32] = self.sparse_score_rows(strengths).toarray()
        return scores

    def sparse_score_rows(self, strengths: sp.csr_matrix) -> sp.csr_matrix:
        """`sparse_scores` of many histories (rows of signed strengths), as a sparse matrix.

        A row holds every item EASE can score, or nothing when its history has none of them.
        """
        fitted = len(self._position)
        columns = strengths.tocsc()
        learned = columns[:, self._modelled]
        added = columns[:, fitted:]
        scored = np.concatenate([self._modelled, np.arange(fitted, len(self._items))])
        values = np.zeros((strengths.shape[0], len(scored)), np.float32)
        values[:, : len(self._modelled)] = learned @ self._weights
        if len(self._added_rows):
            values[:, : len(self._modelled)] += added @ np.asarray(self._added_rows)
            values[:, len(self._modelled) :] = learned @ np.asarray(self._added_columns).T
        knows = (learned.getnnz(axis=1) + added.getnnz(axis=1)) > 0
        counts = np.where(knows, len(scored), 0)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        indices = np.tile(scored, int(knows.sum()))
        shape = (strengths.shape[0], len(self._items))
        return sp.csr_matrix((values[knows].ravel(), indices, indptr), shape=shape)

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        """Each new item's B row and column: a mix of its content neighbours' among the learned."""
        new = [i for i in items if i.item_id not in self._items]
        if not new:
            return
        self._items.extend(i.item_id for i in new)
        features = self._vocab.encode(new)
        similarity = (features @ self._item_features[self._modelled].T).toarray()
        mix = np.zeros((len(new), len(self._modelled)), np.float32)
        for row, sims in enumerate(similarity):
            best = np.argsort(-sims, kind="stable")[:CONTENT_NEIGHBOURS]
            best = best[sims[best] > 0]
            if len(best):
                mix[row, best] = sims[best] / sims[best].sum()
        self._added_rows.append(mix @ self._weights)
        self._added_columns.append(mix @ self._weights.T)

    def save(self, path: Path) -> None:
        save_arrays(
            path,
            weights=self._weights,
            modelled=self._modelled,
            added_rows=np.asarray(self._added_rows),
            added_columns=np.asarray(self._added_columns),
        )
        sp.save_npz(path / "item_features.npz", self._item_features)
        meta = {
            "config": asdict(self.config),
            "items": self._items.ids,
            "fitted_items": len(self._position),
            "l2": self.l2,
        }
        (path / "model.json").write_text(json.dumps(meta))
        self._vocab.save(path / "vocabulary.json")

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / "model.json").read_text())
        config = meta["config"]
        config["l2_grid"] = tuple(config["l2_grid"])
        model = cls(replace(EaseConfig(), **config))
        model._items = IdMap(meta["items"])
        model.l2 = float(meta["l2"])
        model._vocab = FeatureVocabulary.load(path / "vocabulary.json")
        model._weights = load_array(path, "weights")
        model._modelled = np.load(path / "modelled.npy")
        model._position = np.full(meta.get("fitted_items", len(model._items)), -1, np.int64)
        model._position[model._modelled] = np.arange(len(model._modelled))
        model._item_features = sp.csr_matrix(sp.load_npz(path / "item_features.npz"))
        model._new_items()
        if (path / "added_rows.npy").exists():  # saved since added items were kept apart
            model._added_rows.append(np.load(path / "added_rows.npy"))
            model._added_columns.append(np.load(path / "added_columns.npy"))
        return model
