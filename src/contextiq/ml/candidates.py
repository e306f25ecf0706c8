"""One part's scores for one history, in the form a blend can mix without scoring every item.

A blend over a large catalogue gathers candidates (each part's own best items), scores only
those with every part, and standardises each part's scores with that part's mean and spread
over the whole catalogue, which each form below knows without a dense pass: a dense vector
(small catalogues), a sparse one (EASE and transitions are zero for most items), or a vector
family (the embedding, the sequential model) searched through its ANN index (mean and spread
from `index.ScoreMoments`, `retrieval.py`).
"""

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

from contextiq.ml.base import ItemMask
from contextiq.ml.index import top_k

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def _passing(indices: IntArray, allowed: ItemMask | None) -> npt.NDArray[np.bool_]:
    """Which of `indices` an `allowed` mask lets through (indices past its end do not pass)."""
    if allowed is None:
        return np.ones(len(indices), np.bool_)
    inside = indices < len(allowed)
    passing = np.zeros(len(indices), np.bool_)
    passing[inside] = allowed[indices[inside]]
    return passing


class PartScores(ABC):
    """A part's scores for one history, over every item of the catalogue."""

    mean: float
    spread: float

    @abstractmethod
    def best(self, n: int, allowed: ItemMask | None) -> IntArray:
        """About the n best-scoring allowed items (their indices)."""

    @abstractmethod
    def at(self, pool: IntArray) -> FloatArray:
        """The scores of the items in `pool`."""


class DenseScores(PartScores):
    def __init__(self, scores: FloatArray) -> None:
        self.scores = scores
        self.mean = float(scores.mean()) if len(scores) else 0.0
        self.spread = float(scores.std()) if len(scores) else 0.0

    def best(self, n: int, allowed: ItemMask | None) -> IntArray:
        return top_k(self.scores, n, allowed=allowed)[0]

    def at(self, pool: IntArray) -> FloatArray:
        return self.scores[pool]


class SparseScores(PartScores):
    """Scores that are zero except at `indices` (sorted, distinct), over `size` items."""

    def __init__(self, size: int, indices: IntArray, values: FloatArray) -> None:
        self.indices, self.values = indices, values
        self.mean = float(values.sum(dtype=np.float64)) / max(size, 1)
        second = float((values.astype(np.float64) ** 2).sum()) / max(size, 1)
        self.spread = max(second - self.mean**2, 0.0) ** 0.5

    def best(self, n: int, allowed: ItemMask | None) -> IntArray:
        passing = _passing(self.indices, allowed)
        found, _ = top_k(np.where(passing, self.values, np.float32(-np.inf)), n)
        return self.indices[found]

    def at(self, pool: IntArray) -> FloatArray:
        out = np.zeros(len(pool), np.float32)
        if len(self.indices):
            where = np.minimum(np.searchsorted(self.indices, pool), len(self.indices) - 1)
            hit = self.indices[where] == pool
            out[hit] = self.values[where[hit]]
        return out


def standardised(scores: PartScores, pool: IntArray) -> FloatArray:
    """The pool's scores on the part's whole-catalogue scale (as `blend_choice.standardise`)."""
    return ((scores.at(pool) - scores.mean) / (scores.spread or 1.0)).astype(np.float32)
