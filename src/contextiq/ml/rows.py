"""Item tables that grow without copying what was loaded, and files they map from.

A served model's item arrays are memory-mapped read-only from the registry, so every
serving process on a host shares one copy through the page cache. New content appends
rows; copying the base to append (np.vstack) would cost time proportional to the
catalogue on every upsert and leave each process with a private copy. `GrowingRows`
keeps the base as it is and appends to a small tail with room to spare.
"""

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def save_arrays(path: Path, **arrays: npt.NDArray[Any]) -> None:
    """One `.npy` per array: unlike an `.npz`, each can be memory-mapped on load."""
    path.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(path / f"{name}.npy", np.ascontiguousarray(array))


def load_array(path: Path, name: str) -> npt.NDArray[Any]:
    """A read-only memory map of an array written by `save_arrays`.

    Returned as a plain ndarray view of the map: `np.memmap`'s own indexing runs Python code
    on every gather (about 80 us), which a request pays several times.
    """
    mapped = np.load(path / f"{name}.npy", mmap_mode="r")
    array: npt.NDArray[Any] = mapped.view(np.ndarray)
    return array


class GrowingRows:
    """A float32 matrix: a read-only base (often memory-mapped) and rows appended after it.

    Supports what serving needs: `len`, `table[indices]` (gather rows), `table @ vector`
    and `np.asarray(table)` (the whole matrix; a copy once rows were appended).
    """

    def __init__(self, base: npt.NDArray[Any]) -> None:
        self._base: FloatArray = base if base.dtype == np.float32 else base.astype(np.float32)
        self._tail: FloatArray = np.zeros((0, *base.shape[1:]), np.float32)
        self._extra = 0

    def __len__(self) -> int:
        return len(self._base) + self._extra

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self._base.shape[1:])

    @property
    def base(self) -> FloatArray:
        return self._base

    def append(self, rows: npt.NDArray[Any]) -> None:
        """Amortised O(rows): the tail doubles its room when full."""
        need = self._extra + len(rows)
        if need > len(self._tail):
            room = np.zeros((max(need, 2 * len(self._tail), 16), *self._base.shape[1:]), np.float32)
            room[: self._extra] = self._tail[: self._extra]
            self._tail = room
        self._tail[self._extra : need] = rows
        self._extra = need

    def __getitem__(self, indices: npt.NDArray[np.int64]) -> FloatArray:
        n = len(self._base)
        if not self._extra:
            return np.asarray(self._base[indices], np.float32)
        indices = np.asarray(indices, np.int64)
        out = np.empty((len(indices), *self._base.shape[1:]), np.float32)
        old = indices < n
        out[old] = self._base[indices[old]]
        out[~old] = self._tail[indices[~old] - n]
        return out

    def columns(self, indices: npt.NDArray[np.int64]) -> FloatArray:
        """Every row's entries at `indices` (a column gather), as one matrix."""
        head = np.asarray(self._base[:, indices], np.float32)
        if not self._extra:
            return head
        return np.vstack([head, self._tail[: self._extra][:, indices]])

    def __matmul__(self, vector: FloatArray) -> FloatArray:
        head = self._base @ vector
        if not self._extra:
            return np.asarray(head, np.float32)
        return np.concatenate([head, self._tail[: self._extra] @ vector]).astype(np.float32)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> FloatArray:
        whole = (
            self._base
            if not self._extra
            else np.concatenate([self._base, self._tail[: self._extra]])
        )
        return np.asarray(whole, dtype or np.float32)
