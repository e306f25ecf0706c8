"""Shared ranking logic for models that score the whole catalogue for a history."""

from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import ItemMask, Recommender
from contextiq.ml.data import IdMap, Recency, history_matrix, history_vector, seen_matrix
from contextiq.ml.index import top_k, top_k_rows


class ScoringRecommender(Recommender):
    """Implements recommend/similar_items on top of one `scores` method."""

    _items: IdMap

    @property
    def item_ids(self) -> Sequence[str]:
        return self._items.ids

    def has_item(self, item_id: str) -> bool:
        return item_id in self._items

    @property
    def item_map(self) -> IdMap:
        """The live id map (grows with `add_items`), shared by blends of several models."""
        return self._items

    @abstractmethod
    def scores(self, history: Mapping[str, float]) -> npt.NDArray[np.float32]:
        """Raw scores for every item in index order (unknown history items are ignored)."""

    @abstractmethod
    def score_histories(self, histories: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
        """`scores` for many histories at once (one row each): what evaluation calls."""

    def recommend(
        self,
        history: Mapping[str, float],
        k: int,
        exclude: Collection[str] = (),
        allowed: ItemMask | None = None,
    ) -> list[tuple[str, float]]:
        best, values = top_k(self.scores(history), k, self._indices(exclude), allowed)
        return self._named(best, values)

    def recommend_histories(
        self, histories: Sequence[Mapping[str, float]], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Every item scored for the whole batch (`score_histories`), each history's own
        items left out: one matrix product per batch instead of one per user."""
        scores = self.score_histories(histories)
        seen = seen_matrix(histories, self._items).tocoo()
        scores[seen.row, seen.col] = -np.inf
        return top_k_rows(scores, k)

    def enable_ann(self, min_items: int) -> None:
        """Retrieve through an ANN index from `min_items` items on (0: never); exact by default."""

    def _best_of(
        self,
        pool: npt.NDArray[np.int64],
        scores: npt.NDArray[np.float32],
        k: int,
        excluded: npt.NDArray[np.int64],
    ) -> list[tuple[str, float]]:
        """Top-k of a candidate pool (item indices and their scores), excluded items left out."""
        keep = ~np.isin(pool, excluded)
        best, values = top_k(scores[keep], k)
        return self._named(pool[keep][best], values)

    def _named(
        self, indices: npt.NDArray[np.int64], values: npt.NDArray[np.float32]
    ) -> list[tuple[str, float]]:
        ids = self._items.ids
        return [(ids[j], float(v)) for j, v in zip(indices, values, strict=True)]

    def similar_items(
        self, item_id: str, k: int, allowed: ItemMask | None = None
    ) -> list[tuple[str, float]]:
        """Items a user who liked only `item_id` would get: the model's own notion of similarity."""
        if item_id not in self._items:
            return []
        return self.recommend({item_id: 1.0}, k, exclude=(item_id,), allowed=allowed)

    def _indices(self, ids: Collection[str]) -> npt.NDArray[np.int64]:
        found = [self._items.get(i) for i in ids]
        return np.fromiter((j for j in found if j is not None), np.int64)


class FoldInRecommender(ScoringRecommender):
    """A model family that scores a history given as item indices and signed strengths."""

    #: How much the latest items of a history count; families leave it flat, a blend tunes it.
    recency: Recency = Recency()

    @abstractmethod
    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Raw scores for every item, given a history as item indices and signed strengths."""

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        """Scores for many histories at once (rows of signed strengths); override to vectorise."""
        rows = [
            self.score_indices(
                strengths.indices[strengths.indptr[r] : strengths.indptr[r + 1]].astype(np.int64),
                strengths.data[strengths.indptr[r] : strengths.indptr[r + 1]],
            )
            for r in range(strengths.shape[0])
        ]
        return np.vstack(rows) if rows else np.zeros((0, len(self._items)), np.float32)

    def score_histories(self, histories: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
        return self.score_matrix(history_matrix(histories, self._items, self.recency))

    def scores(self, history: Mapping[str, float]) -> npt.NDArray[np.float32]:
        idx, val = history_vector(history, self._items, self.recency)
        return self.score_indices(idx, val)
