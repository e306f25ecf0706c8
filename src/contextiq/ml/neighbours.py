"""Each item's nearest items, computed once when a model is saved and read by requests.

"Because you liked X" needs the neighbours of a user's latest items, and `GET /similar` those
of one item. Found on request, each costs a scoring of the catalogue; they depend on the model
alone, so the model carries them: an int32 table of `depth` neighbours per item (-1 where an
item has fewer) and their similarities, memory-mapped on load like the item tables.
"""

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt

from contextiq.ml.rows import load_array, save_arrays

log = logging.getLogger(__name__)

#: Neighbours kept per item: the depth `recommend.explain.Explainer` reads.
DEPTH = 50
#: Seconds between progress lines while neighbours are computed.
PROGRESS_SECONDS = 10.0
#: Items whose neighbours are scored in one matrix product (a batch x items float32 block).
BATCH = 256

#: Scores of many histories at once, one row each (a model's `score_histories`).
ScoreRows = Callable[[Sequence[Mapping[str, float]]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class ItemNeighbours:
    indices: npt.NDArray[np.int32]
    similarities: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def depth(self) -> int:
        return int(self.indices.shape[1])

    @classmethod
    def compute(
        cls, score_rows: ScoreRows, ids: Sequence[str], depth: int = DEPTH, batch: int = BATCH
    ) -> Self:
        """Each item's best-scoring others for a history of that item alone, `batch` at once.

        One matrix product per batch instead of a scoring per item: at 100,000 items the
        per-item path cost minutes of a model's save. Logs its progress.
        """
        n = len(ids)
        depth = max(0, min(depth, n - 1))
        indices = np.full((n, depth), -1, np.int32)
        similarities = np.zeros((n, depth), np.float32)
        started = last = time.perf_counter()
        for start in range(0, n if depth else 0, batch):
            stop = min(n, start + batch)
            scores = np.array(score_rows([{ids[j]: 1.0} for j in range(start, stop)]), np.float32)
            scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            best = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
            values = np.take_along_axis(scores, best, axis=1)
            order = np.lexsort((best, -values), axis=1)  # best first, ties by index
            best, values = np.take_along_axis(best, order, 1), np.take_along_axis(values, order, 1)
            finite = np.isfinite(values)
            indices[start:stop] = np.where(finite, best, -1)
            similarities[start:stop] = np.where(finite, values, 0.0)
            if time.perf_counter() - last >= PROGRESS_SECONDS:
                last = time.perf_counter()
                rate = stop / (last - started)
                log.info(
                    "item neighbours: %d/%d items, %.0f items/s, ETA %.0fs",
                    stop,
                    n,
                    rate,
                    (n - stop) / rate,
                )
        log.info("item neighbours: %d items in %.0fs", n, time.perf_counter() - started)
        return cls(indices, similarities)

    def of(self, index: int, k: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """The first k neighbours of the item at `index` and their similarities, best first."""
        row = self.indices[index, :k]
        found = row >= 0
        return np.asarray(row[found]), np.asarray(self.similarities[index, :k][found])

    def save(self, path: Path) -> None:
        save_arrays(path, indices=self.indices, similarities=self.similarities)

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls(load_array(path, "indices"), load_array(path, "similarities"))
