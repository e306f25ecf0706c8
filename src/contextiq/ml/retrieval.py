"""Families that score a history as one vector against a table of item rows, and their ANN path.

The embedding (a folded-in user against output vectors and biases) and the sequential model
(the "what next" state of a history against item vectors) both rank by an inner product
with one row per item. Over a large catalogue (`enable_ann`) neither scores every row: they
search an IVF index (`index.InnerProductIndex`) built when the model is saved and
memory-mapped when it is served, score the rows added since exactly, and know their scores'
mean and spread over the whole catalogue from `index.ScoreMoments` (what a candidate blend
standardises with, `candidates.py`).
"""

from abc import abstractmethod
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import ItemMask
from contextiq.ml.data import history_vector
from contextiq.ml.index import InnerProductIndex, ScoreMoments, top_k, top_k_rows
from contextiq.ml.rows import FloatArray
from contextiq.ml.scoring import FoldInRecommender

IntArray = npt.NDArray[np.int64]

#: From this many items a saved model carries its ANN index (built in seconds at this size).
SAVED_INDEX_MIN_ITEMS = 10_000
INDEX_FILE = "ann.faiss"
#: An `allowed` mask letting at most this share of the items through is scored exactly.
EXACT_SHARE = 0.1


class VectorRecommender(FoldInRecommender):
    """Scores are `index_rows() @ query(user)`; a subclass says what a user and a row are."""

    _ann: InnerProductIndex | None = None
    _moments: ScoreMoments | None = None
    #: The index saved with the model, when it was loaded from a folder that has one.
    _index_path: Path | None = None
    #: Seeds the index's clustering.
    _index_seed: int = 0
    #: Share of the index's clusters a search visits (`InnerProductIndex.probe_share`).
    probe_share: ClassVar[float] = InnerProductIndex.PROBE_SHARE

    @abstractmethod
    def user_vector(self, indices: IntArray, strengths: FloatArray) -> FloatArray:
        """The vector a history (item indices, signed strengths) is scored with."""

    @abstractmethod
    def user_rows(self, rows: sp.csr_matrix) -> FloatArray:
        """`user_vector` of many histories, given as the rows `score_matrix` reads."""

    @abstractmethod
    def pool_scores(self, user: FloatArray, pool: IntArray) -> FloatArray:
        """The scores of the items in `pool` for `user`."""

    @abstractmethod
    def pool_score_rows(self, users: FloatArray, pool: IntArray) -> FloatArray:
        """`pool_scores` of many users, each over its row of `pool` (-1 scores as item 0)."""

    @abstractmethod
    def _index_rows(self) -> FloatArray:
        """Every item's row in the index (the whole table, a copy if rows were appended)."""

    def _query_rows(self, users: FloatArray) -> FloatArray:
        """Users (rows) as queries against `_index_rows` (rows with a bias column append a 1)."""
        return users

    def _query(self, user: FloatArray) -> FloatArray:
        query: FloatArray = self._query_rows(user[None])[0]
        return query

    # -- approximate retrieval for large catalogues ---------------------------------------

    def enable_ann(self, min_items: int) -> None:
        """Retrieve through the index saved with the model (or one built now) from `min_items`."""
        if min_items <= 0 or len(self._items) < min_items:
            self._ann, self._moments = None, None
            return
        rows = self._index_rows()
        saved = self._index_path
        if saved is not None and saved.exists():
            self._ann = InnerProductIndex.load(saved, self.probe_share)
        else:
            self._ann = InnerProductIndex.build(rows, self._index_seed, self.probe_share)
        self._moments = ScoreMoments(rows)

    @property
    def uses_ann(self) -> bool:
        return self._ann is not None

    def nearest(self, user: FloatArray, n: int, allowed: ItemMask | None = None) -> IntArray:
        """About the n best-scoring (allowed) items for `user`.

        The index covers the items the model was saved with; items added since are few and
        scored exactly. A selective `allowed` (at most `EXACT_SHARE` of the items pass) is
        scored exactly over the allowed items alone: cheaper than probing for them.
        """
        assert self._ann is not None, "enable_ann first"
        total = len(self._items)
        if allowed is not None:
            mask = np.zeros(total, np.bool_)
            mask[: min(len(allowed), total)] = allowed[:total]
            if np.count_nonzero(mask) <= EXACT_SHARE * total:
                subset = np.flatnonzero(mask)
                return subset[top_k(self.pool_scores(user, subset), n)[0]]
            allowed = mask
        hits = self._ann.search(self._query(user), n, allowed)
        added = np.arange(len(self._ann), total)
        if allowed is not None:
            added = added[allowed[added]]
        if len(added):
            hits = np.concatenate([hits, added[top_k(self.pool_scores(user, added), n)[0]]])
        return hits

    def nearest_rows(self, users: FloatArray, n: int) -> IntArray:
        """`nearest` of many users (rows) at once, no mask: -1 past what a row found."""
        assert self._ann is not None, "enable_ann first"
        hits = self._ann.search_rows(self._query_rows(users), n)
        added = np.arange(len(self._ann), len(self._items))
        if not len(added):
            return hits
        pool = np.broadcast_to(added, (len(users), len(added)))
        best, _ = top_k_rows(self.pool_score_rows(users, pool), n)
        return np.hstack([hits, np.where(best >= 0, added[np.maximum(best, 0)], -1)])

    def score_mean_std(self, user: FloatArray) -> tuple[float, float]:
        """Mean and spread of this user's scores over the whole catalogue (for blending)."""
        assert self._moments is not None, "enable_ann first"
        return self._moments.mean_std(self._query(user))

    def score_mean_std_rows(
        self, users: FloatArray
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """`score_mean_std` of many users (rows) at once."""
        assert self._moments is not None, "enable_ann first"
        return self._moments.mean_std_rows(self._query_rows(users))

    def _rows_added(self, rows: FloatArray) -> None:
        """Count appended index rows in the moments (the index keeps its own; see `nearest`)."""
        if self._moments is not None:
            self._moments.add(rows)

    def recommend(
        self,
        history: Mapping[str, float],
        k: int,
        exclude: Collection[str] = (),
        allowed: ItemMask | None = None,
    ) -> list[tuple[str, float]]:
        if self._ann is None:
            return super().recommend(history, k, exclude, allowed)
        user = self.user_vector(*history_vector(history, self._items, self.recency))
        excluded = self._indices(exclude)
        pool = self.nearest(user, k + len(excluded), allowed)
        return self._best_of(pool, self.pool_scores(user, pool), k, excluded)

    # -- persistence ----------------------------------------------------------------------

    def _save_index(self, path: Path) -> None:
        """From `SAVED_INDEX_MIN_ITEMS` items, save the index (the one in use when it is whole)."""
        if len(self._items) < SAVED_INDEX_MIN_ITEMS:
            return
        index = self._ann
        if index is None or len(index) != len(self._items):
            index = InnerProductIndex.build(self._index_rows(), self._index_seed, self.probe_share)
        index.save(path / INDEX_FILE)

    def _saved_index(self, path: Path) -> None:
        """Remember the index saved under `path`, if any, for `enable_ann` to map."""
        self._index_path = path / INDEX_FILE
