"""Item-to-item transitions: which items sit next to each other in users' histories.

Catalogues are often consumed in sequences (a series, a session, a page of a catalogue), so
items touched within a few steps of each other are related in a way that plain
co-occurrence over whole histories blurs. `T[i, j]` counts, over every training history
(oldest first), how often `j` came within `window` steps after `i` (nearer steps count
more; `j` before `i` counts `backward` as much), normalised per row, and on large data
cut to its `max_per_row` strongest entries. A user's scores are their history's strengths times T.
Order only means something when events carry timestamps; the blend uses transitions only
then.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.data import IdMap, dense_scores
from contextiq.ml.rows import load_array, save_arrays
from contextiq.ml.scale import LARGE_EVENTS

#: Steps gathered before they are summed into the sparse counts.
PAIRS_PER_CHUNK = 2_000_000
#: Entries of T sorted at a time when its rows are cut to their strongest.
ENTRIES_PER_CHUNK = 8_000_000


@dataclass(frozen=True)
class TransitionConfig:
    window: int = 10
    step_decay: float = 0.7
    backward: float = 0.5
    #: Entries kept per row of T from `capped_from` events: a popular item's row otherwise
    #: holds tens of thousands (every request with it in the history gathers them all) for a
    #: tail of tiny weights. Below that T is whole: on latest-small the cap cost the
    #: transitions their share (nDCG@10 0.4091 -> 0.3991).
    max_per_row: int = 200
    capped_from: int = LARGE_EVENTS


class ItemTransitions:
    """Scores items over a shared, growing id map; items added after fit have no transitions."""

    def __init__(self, items: IdMap, config: TransitionConfig | None = None) -> None:
        self.config = config or TransitionConfig()
        self._items = items
        self._matrix = _normalised(_counts([], len(items)), self.config.backward)

    def fit(self, histories: Sequence[Mapping[str, float]]) -> Self:
        """Learn from histories listed oldest first (positive interactions only).

        Steps are summed into the sparse count matrix a few million at a time, so memory
        follows the number of distinct item pairs, not events x window.
        """
        cfg = self.config
        n = len(self._items)
        forward = _counts([], n)
        pending: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]] = []
        size = events = 0
        for history in histories:
            sequence = self._items.lookup([i for i, w in history.items() if w > 0])
            sequence = sequence[sequence >= 0]
            events += len(sequence)
            for step in range(1, min(cfg.window, len(sequence) - 1) + 1):
                pending.append((sequence[:-step], sequence[step:], cfg.step_decay ** (step - 1)))
                size += len(sequence) - step
            if size >= PAIRS_PER_CHUNK:
                forward = forward + _counts(pending, n)
                pending, size = [], 0
        forward = forward + _counts(pending, n)
        self._matrix = _normalised(forward, cfg.backward)
        if events >= cfg.capped_from:
            self._matrix = _strongest(self._matrix, cfg.max_per_row)
        return self

    @property
    def size(self) -> int:
        """Items scored: every item of the shared map, including those added after fit."""
        return len(self._items)

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Scores for every item from a history as item indices and signed strengths."""
        return dense_scores(len(self._items), *self.sparse_scores(indices, strengths))

    def sparse_scores(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The items a history leads to (sorted indices) and their scores; the rest score 0.

        Reads only the history items' rows of T (gathered in one step, no per-item loop).
        """
        known = (indices < self._matrix.shape[0]) & (strengths > 0)
        rows, weights = indices[known], strengths[known]
        matrix = self._matrix
        starts = matrix.indptr[rows].astype(np.int64)
        lengths = matrix.indptr[rows + 1].astype(np.int64) - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        positions = offsets + np.arange(int(lengths.sum()))
        targets = np.asarray(matrix.indices[positions], np.int64)
        steps = matrix.data[positions] * np.repeat(weights, lengths)
        if len(targets) > matrix.shape[1] // 16:  # popular items' rows: summing beats sorting
            summed = np.bincount(targets, steps, matrix.shape[1])
            scored = np.flatnonzero(summed)
            return scored, summed[scored].astype(np.float32)
        scored, where = np.unique(targets, return_inverse=True)
        return scored, np.bincount(where, steps, len(scored)).astype(np.float32)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        """Scores for many histories at once (rows of signed strengths)."""
        scores: npt.NDArray[np.float32] = self.sparse_score_rows(strengths).toarray()
        return scores

    def sparse_score_rows(self, strengths: sp.csr_matrix) -> sp.csr_matrix:
        """`sparse_scores` of many histories at once, as a sparse matrix over every item."""
        fitted = self._matrix.shape[0]
        # CSR on both sides: a CSC left operand makes scipy convert the whole matrix per call.
        inputs = sp.csr_matrix(strengths.maximum(0))[:, :fitted]
        found = sp.csr_matrix(inputs @ self._matrix, dtype=np.float32)
        shape = (strengths.shape[0], len(self._items))
        return sp.csr_matrix((found.data, found.indices, found.indptr), shape=shape)

    def save(self, path: Path) -> None:
        matrix = self._matrix
        save_arrays(path, data=matrix.data, indices=matrix.indices, indptr=matrix.indptr)
        (path / "shape.json").write_text(json.dumps(list(matrix.shape)))
        (path / "config.json").write_text(json.dumps(asdict(self.config)))

    @classmethod
    def load(cls, path: Path, items: IdMap) -> Self:
        model = cls(items, TransitionConfig(**json.loads((path / "config.json").read_text())))
        if (path / "transitions.npz").exists():  # saved before the arrays were memory-mapped
            model._matrix = sp.csr_matrix(sp.load_npz(path / "transitions.npz"), dtype=np.float32)
            return model
        parts = (load_array(path, name) for name in ("data", "indices", "indptr"))
        shape = tuple(json.loads((path / "shape.json").read_text()))
        model._matrix = sp.csr_matrix(tuple(parts), shape=shape, copy=False)
        return model


def _counts(
    steps: Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]], n: int
) -> sp.csr_matrix:
    """Summed (source -> target) step weights as an n x n sparse matrix."""
    sources = np.concatenate([np.zeros(0, np.int32), *(s.astype(np.int32) for s, _, _ in steps)])
    targets = np.concatenate([np.zeros(0, np.int32), *(t.astype(np.int32) for _, t, _ in steps)])
    weights = np.concatenate(
        [np.zeros(0, np.float32), *(np.full(len(s), w, np.float32) for s, _, w in steps)]
    )
    return sp.csr_matrix((weights, (sources, targets)), shape=(n, n), dtype=np.float32)


def _normalised(forward: sp.csr_matrix, backward: float) -> sp.csr_matrix:
    """Row-normalised counts of (source -> target) steps, reverse steps weighted `backward`."""
    counts = (forward + backward * forward.T).tocsr()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / totals) @ counts, dtype=np.float32)


def _strongest(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Each row's `n` largest entries (the rest dropped, the kept ones unchanged).

    Rows are sorted by value a block of about `ENTRIES_PER_CHUNK` entries at a time, so the
    sort's memory stays bounded however many entries T has.
    """
    indptr = matrix.indptr.astype(np.int64)
    lengths = np.diff(indptr)
    if not len(lengths) or lengths.max() <= n:
        return matrix
    keep: list[npt.NDArray[np.int64]] = []
    first = 0
    while first < len(lengths):
        last = int(np.searchsorted(indptr, indptr[first] + ENTRIES_PER_CHUNK, "right")) - 1
        last = min(max(last, first + 1), len(lengths))
        start, stop = indptr[first], indptr[last]
        rows = np.repeat(np.arange(first, last), lengths[first:last])
        # By row, then by value, largest first (one float64 key: T's entries are positive, so
        # value / largest lies in (0, 1]); an entry's rank in its row is then its offset.
        # np.lexsort on (value, row) gives the same order at 8x the time.
        values = matrix.data[start:stop].astype(np.float64)
        order = np.argsort(2.0 * (rows - first) + 1.0 - values / values.max())
        rank = np.arange(len(order)) - (indptr[rows[order]] - start)
        kept = order[rank < n] + start
        kept.sort()  # back in T's own order within each row
        keep.append(kept)
        first = last
    kept = np.concatenate(keep)
    cut = np.zeros(len(indptr), np.int64)
    np.cumsum(np.minimum(lengths, n), out=cut[1:])
    return sp.csr_matrix(
        (matrix.data[kept], matrix.indices[kept], cut), shape=matrix.shape, copy=False
    )
