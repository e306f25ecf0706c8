"""Each item's nearest items, computed once when a model is saved and read by requests.

"Because you liked X" needs the neighbours of a user's latest items, and `GET /similar` those
of one item. Found on request, each costs a scoring of the catalogue; they depend on the model
alone, so the model carries them: an int32 table of `depth` neighbours per item (-1 where an
item has fewer) and their similarities, memory-mapped on load like the item tables.
"""

import logging
import time
from collections.abc import Callable
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

#: Items whose neighbours are found in one batch: bounds the dense rows of a part that
#: has no candidate form (BATCH x items x 4 bytes: 100 MB at 100,000 items).
BATCH = 256

#: Neighbours of a batch of items (their indices): rows of item indices (-1 past what a
#: row found) and of similarities, best first.
Nearest = Callable[[npt.NDArray[np.int64]], tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]


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
    def compute(cls, nearest: Nearest, n_items: int, depth: int = DEPTH) -> Self:
        """`nearest` of every item, a batch at a time, as index tables (logs its progress)."""
        indices = np.full((n_items, depth), -1, np.int32)
        similarities = np.zeros((n_items, depth), np.float32)
        started = last = time.perf_counter()
        for start in range(0, n_items, BATCH):
            items = np.arange(start, min(start + BATCH, n_items), dtype=np.int64)
            found, scores = nearest(items)
            width = min(found.shape[1], depth)
            indices[items, :width] = found[:, :width]
            similarities[items, :width] = np.where(found[:, :width] >= 0, scores[:, :width], 0)
            if time.perf_counter() - last >= PROGRESS_SECONDS:
                last = time.perf_counter()
                done = int(items[-1]) + 1
                rate = done / (last - started)
                log.info(
                    "item neighbours: %d/%d items, %.0f items/s, ETA %.0fs",
                    done,
                    n_items,
                    rate,
                    (n_items - done) / rate,
                )
        log.info("item neighbours: %d items in %.0fs", n_items, time.perf_counter() - started)
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
