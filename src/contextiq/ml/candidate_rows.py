"""`candidates.py` for many histories at once: each part's scores for a batch of rows.

The saved item neighbours (`neighbours.py`) are a candidate-path recommendation for every
item of the catalogue; asked one item at a time they cost a millisecond or more of Python
each, minutes at 100,000 items. In these forms a batch of histories costs a few array
operations per part: each row's best items (`best`, -1 where a row has fewer), the scores
of a per-row pool of items (`at`), and each row's mean and spread over the whole catalogue.
"""

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.index import top_k_rows

#: Item indices per row (-1: no item), and scores per row.
IntRows = npt.NDArray[np.int64]
FloatRows = npt.NDArray[np.float32]
Moments = npt.NDArray[np.float64]


class RowScores(ABC):
    """A part's scores for a batch of histories, one row each, over every item."""

    mean: Moments
    spread: Moments

    @abstractmethod
    def best(self, n: int) -> IntRows:
        """About the n best-scoring items of each row (-1 past what a row has)."""

    @abstractmethod
    def at(self, pool: IntRows) -> FloatRows:
        """Each row's scores of the items in its row of `pool` (any value where it is -1)."""


class DenseRows(RowScores):
    def __init__(self, scores: FloatRows) -> None:
        self.scores = scores
        self.mean = scores.mean(axis=1, dtype=np.float64)
        self.spread = scores.std(axis=1, dtype=np.float64)

    def best(self, n: int) -> IntRows:
        return top_k_rows(self.scores, n)[0]

    def at(self, pool: IntRows) -> FloatRows:
        return np.take_along_axis(self.scores, np.maximum(pool, 0), axis=1)


class SparseRows(RowScores):
    """Scores that are zero outside a sparse matrix's entries (one row per history)."""

    def __init__(self, scores: sp.csr_matrix) -> None:
        self.scores = sp.csr_matrix(scores)
        self.scores.sort_indices()
        size = max(self.scores.shape[1], 1)
        values = self.scores.data.astype(np.float64)
        self._rows = np.repeat(np.arange(self.scores.shape[0]), np.diff(self.scores.indptr))
        self.mean = np.bincount(self._rows, values, self.scores.shape[0]) / size
        second = np.bincount(self._rows, values**2, self.scores.shape[0]) / size
        self.spread = np.sqrt(np.maximum(second - self.mean**2, 0.0))

    def best(self, n: int) -> IntRows:
        """Rows of similar length at a time, padded to a power of two: a partition per block.

        Ties are broken by item index, as `index.top_k` breaks them.
        """
        scores = self.scores
        out = np.full((scores.shape[0], n), -1, np.int64)
        lengths = np.diff(scores.indptr)
        widths = 2 ** np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64)
        for width in np.unique(widths[lengths > 0]):
            rows = np.flatnonzero((widths == width) & (lengths > 0))
            starts = scores.indptr[rows][:, None]
            columns = np.arange(width)
            inside = columns < lengths[rows][:, None]
            entries = np.where(inside, starts + columns, 0)
            values = np.where(inside, scores.data[entries], np.float32(-np.inf))
            found, _ = top_k_rows(values.astype(np.float32), n)
            picked = scores.indices[entries[np.arange(len(rows))[:, None], np.maximum(found, 0)]]
            out[rows, : found.shape[1]] = np.where(found >= 0, picked, -1)
        return out

    def at(self, pool: IntRows) -> FloatRows:
        out = np.zeros(pool.shape, np.float32)
        where, hit = entries_at(self.scores, pool)
        out[hit] = self.scores.data[where[hit]]
        return out


def entries_at(matrix: sp.csr_matrix, pool: IntRows) -> tuple[IntRows, npt.NDArray[np.bool_]]:
    """Where each row's pool items are among the matrix's entries, and which are there at all.

    The matrix's rows must have sorted indices (`sort_indices`).
    """
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    width = np.int64(matrix.shape[1])
    keys = rows * width + matrix.indices
    wanted = np.arange(len(pool))[:, None] * width + pool
    where = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    hit = (pool >= 0) & (keys[where] == wanted) if len(keys) else np.zeros(pool.shape, np.bool_)
    return where, hit


def standardised_rows(scores: RowScores, pool: IntRows) -> FloatRows:
    """The pool's scores on each row's whole-catalogue scale (`candidates.standardised`)."""
    spread = np.where(scores.spread == 0, 1.0, scores.spread)
    centred = (scores.at(pool) - scores.mean[:, None]) / spread[:, None]
    return centred.astype(np.float32)


def distinct_rows(pool: IntRows) -> IntRows:
    """Each row's items sorted, every repeat (and every -1) as -1."""
    ordered = np.sort(pool, axis=1)
    repeat = np.zeros(ordered.shape, np.bool_)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    ordered[repeat] = -1
    return ordered
