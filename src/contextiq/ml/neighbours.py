"""Each item's nearest items, computed once when a model is saved and read by requests.

"Because you liked X" needs the neighbours of a user's latest items, and `GET /similar` those
of one item. Found on request, each costs a scoring of the catalogue; they depend on the model
alone, so the model carries them: an int32 table of `depth` neighbours per item (-1 where an
item has fewer) and their similarities, memory-mapped on load like the item tables.
"""

import logging
import time
from collections.abc import Callable, Sequence
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

Similar = Callable[[str, int], list[tuple[str, float]]]


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
    def compute(cls, similar: Similar, ids: Sequence[str], depth: int = DEPTH) -> Self:
        """`similar(item, depth)` of every item, as index tables (logs its progress)."""
        position = {item: j for j, item in enumerate(ids)}
        indices = np.full((len(ids), depth), -1, np.int32)
        similarities = np.zeros((len(ids), depth), np.float32)
        started = last = time.perf_counter()
        for row, item in enumerate(ids):
            found = similar(item, depth)
            indices[row, : len(found)] = [position[i] for i, _ in found]
            similarities[row, : len(found)] = [s for _, s in found]
            if time.perf_counter() - last >= PROGRESS_SECONDS:
                last = time.perf_counter()
                rate = (row + 1) / (last - started)
                log.info(
                    "item neighbours: %d/%d items, %.0f items/s, ETA %.0fs",
                    row + 1,
                    len(ids),
                    rate,
                    (len(ids) - row - 1) / rate,
                )
        log.info("item neighbours: %d items in %.0fs", len(ids), time.perf_counter() - started)
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
