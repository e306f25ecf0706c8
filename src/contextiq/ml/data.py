"""Weighted interactions to id maps and sparse user x item matrices."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import WeightedInteraction

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class IdMap:
    """Stable external id <-> dense index mapping; new ids append at the end."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self.extend(ids)

    def extend(self, ids: Iterable[str]) -> list[str]:
        """Add unseen ids, returning only the ones that were new."""
        added = []
        for item in ids:
            if item not in self._index:
                self._index[item] = len(self._ids)
                self._ids.append(item)
                added.append(item)
        return added

    def get(self, item: str) -> int | None:
        return self._index.get(item)

    def lookup(self, ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Indices of `ids`, -1 where unknown."""
        found = (self._index.get(x) for x in ids)
        return np.fromiter((-1 if j is None else j for j in found), np.int64, len(ids))

    def __getitem__(self, item: str) -> int:
        return self._index[item]

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        return self._ids


def signal_strength(weights: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """Compress weights (play counts, durations) so heavy users don't dominate; keeps the sign."""
    compressed: npt.NDArray[np.float32] = np.sign(weights) * np.log1p(np.abs(weights))
    return compressed.astype(np.float32)


def decayed_weights(
    interactions: Sequence[WeightedInteraction], half_life_seconds: float | None
) -> list[float]:
    """Weights with exponential time decay relative to the newest event (no decay without times)."""
    if half_life_seconds is None:
        return [i.weight for i in interactions]
    stamps = [i.timestamp for i in interactions if i.timestamp is not None]
    if not stamps:
        return [i.weight for i in interactions]
    newest = max(stamps)
    return [
        i.weight * 0.5 ** ((newest - i.timestamp) / half_life_seconds)
        if i.timestamp is not None
        else i.weight
        for i in interactions
    ]


@dataclass(frozen=True)
class InteractionMatrix:
    """Users x items matrix of summed signed weights, with the maps that index it."""

    users: IdMap
    items: IdMap
    weights: sp.csr_matrix

    def history(self, user_index: int) -> dict[str, float]:
        row = self.weights.getrow(user_index)
        return {self.items.ids[j]: float(v) for j, v in zip(row.indices, row.data, strict=True)}


def build_matrix(
    interactions: Sequence[WeightedInteraction],
    item_ids: Iterable[str] = (),
    half_life_seconds: float | None = None,
) -> InteractionMatrix:
    """Sum repeated (user, item) events; `item_ids` adds catalogue items nobody touched yet."""
    users = IdMap(i.user_id for i in interactions)
    items = IdMap(item_ids)
    items.extend(i.item_id for i in interactions)
    rows = np.fromiter((users[i.user_id] for i in interactions), np.int64, len(interactions))
    cols = np.fromiter((items[i.item_id] for i in interactions), np.int64, len(interactions))
    vals = np.asarray(decayed_weights(interactions, half_life_seconds), dtype=np.float64)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(users), len(items)), dtype=np.float64)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    # Summed in float64, then held at float32's largest: past it a sum would be inf, and one
    # inf makes the whole fit NaN (EASE's Cholesky fails). Compressed, it is the top weight.
    matrix.data = np.clip(matrix.data, -_FLOAT32_MAX, _FLOAT32_MAX)
    return InteractionMatrix(users, items, matrix.astype(np.float32))


@dataclass(frozen=True)
class Recency:
    """Weigh a history's latest items more: strength x (1 + boost x 0.5^(age / half_life)).

    A history mapping lists items oldest first (see `Recommender.recommend`); an item's age
    is how many other items the user touched after it. `boost=0` treats all alike.
    """

    boost: float = 0.0
    half_life: float = 5.0

    def factors(self, ages: FloatArray) -> FloatArray:
        """The factor for items of these ages (0 = the latest item)."""
        return (1.0 + self.boost * 0.5 ** (ages / self.half_life)).astype(np.float32)


def _read(history: Mapping[str, float], items: IdMap) -> tuple[IntArray, FloatArray, FloatArray]:
    """Known, non-zero items of a history: indices, signed strengths and ages (0 = latest)."""
    weights = np.fromiter(history.values(), np.float64, len(history))
    indices = items.lookup(list(history))
    ages = np.arange(len(history) - 1, -1, -1, dtype=np.float32)
    keep = (weights != 0) & (indices >= 0)
    return indices[keep], signal_strength(weights[keep]), ages[keep]


def history_vector(
    history: Mapping[str, float], items: IdMap, recency: Recency = Recency()
) -> tuple[IntArray, FloatArray]:
    """Known items of a history as (indices, signed strengths); unknown ids are ignored."""
    indices, strengths, ages = _read(history, items)
    return indices, strengths * recency.factors(ages)


def history_matrices(
    histories: Sequence[Mapping[str, float]], items: IdMap, recencies: Sequence[Recency]
) -> list[sp.csr_matrix]:
    """`history_matrix` for several recencies, reading the histories once."""
    read = [_read(history, items) for history in histories]
    rows = np.repeat(np.arange(len(read)), [len(indices) for indices, _, _ in read])
    cols = np.concatenate([np.zeros(0, np.int64), *(indices for indices, _, _ in read)])
    strengths = np.concatenate([np.zeros(0, np.float32), *(s for _, s, _ in read)])
    ages = np.concatenate([np.zeros(0, np.float32), *(a for _, _, a in read)])
    shape = (len(histories), len(items))
    return [
        sp.csr_matrix((strengths * recency.factors(ages), (rows, cols)), shape=shape)
        for recency in recencies
    ]


def history_matrix(
    histories: Sequence[Mapping[str, float]], items: IdMap, recency: Recency = Recency()
) -> sp.csr_matrix:
    """One row of signed strengths per history, over `items` (unknown ids are ignored)."""
    return history_matrices(histories, items, [recency])[0]


def seen_matrix(histories: Sequence[Mapping[str, float]], items: IdMap) -> sp.csr_matrix:
    """1 where a history holds a known item, whatever its weight (sorted indices).

    What batch ranking leaves out: an item whose weights sum to 0 scores nothing
    (`history_matrix` drops it) but the user still interacted with it.
    """
    lookups = (items.lookup(list(history)) for history in histories)
    rows = [np.sort(indices[indices >= 0]) for indices in lookups]
    counts = [len(r) for r in rows]
    cols = np.concatenate([np.zeros(0, np.int64), *rows])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ones = np.ones(len(cols), np.float32)
    return sp.csr_matrix((ones, cols, indptr), shape=(len(histories), len(items)))


def dense_scores(size: int, indices: IntArray, values: FloatArray) -> FloatArray:
    """A whole-catalogue score row from a sparse family's few scored items (the rest 0)."""
    scores = np.zeros(size, np.float32)
    scores[indices] = values
    return scores


def strength_matrix(weights: sp.csr_matrix) -> sp.csr_matrix:
    """Apply `signal_strength` elementwise to a sparse weight matrix."""
    out = weights.copy().astype(np.float32)
    out.data = signal_strength(out.data)
    return out


def order_matrix(histories: Sequence[Mapping[str, float]], items: IdMap) -> sp.csr_matrix:
    """One row per history: its known, positive items valued by position (1 = the oldest).

    What sequential models read in batches: a sparse row keeps no order of its own, so the
    order travels in the values and survives any re-sorting of the row's indices.
    """
    rows = []
    for history in histories:
        positive = [i for i, w in history.items() if w > 0]
        indices = items.lookup(positive)
        rows.append(indices[indices >= 0])
    counts = [len(r) for r in rows]
    cols = np.concatenate([np.zeros(0, np.int64), *rows])
    positions = np.concatenate([np.zeros(0, np.float32), *(np.arange(1, n + 1) for n in counts)])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    shape = (len(histories), len(items))
    return sp.csr_matrix((positions.astype(np.float32), cols, indptr), shape=shape)


def ordered_rows(order: sp.csr_matrix) -> list[IntArray]:
    """Each row of an `order_matrix` back as item indices, oldest first."""
    out = []
    for r in range(order.shape[0]):
        start, end = order.indptr[r], order.indptr[r + 1]
        indices = order.indices[start:end]
        out.append(indices[np.argsort(order.data[start:end], kind="stable")].astype(np.int64))
    return out
