"""Top-k retrieval: exact over a dense score vector, or approximate through an ANN index."""

import threading

import faiss
import numpy as np
import numpy.typing as npt


def top_k(
    scores: npt.NDArray[np.float32],
    k: int,
    exclude: npt.NDArray[np.int64] | None = None,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Indices and scores of the k best entries, best first; excluded indices never appear.

    `allowed` (a mask over the entries; entries past its end are not allowed) filters before
    the partition, so a selective filter still yields k entries when k pass. argpartition
    keeps this O(n) on the request path. Ties are broken by index so results are deterministic.
    """
    if allowed is not None:
        mask = np.zeros(len(scores), np.bool_)
        mask[: min(len(allowed), len(scores))] = allowed[: len(scores)]
        scores = np.where(mask, scores, np.float32(-np.inf)).astype(np.float32, copy=False)
    if exclude is not None and len(exclude):
        scores = scores.copy() if allowed is None else scores
        scores[exclude] = -np.inf
    available = int(np.isfinite(scores).sum())
    k = min(k, available)
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))
    best = candidates[order].astype(np.int64)
    return best, scores[best].astype(np.float32)


class InnerProductIndex:
    """Approximate maximum-inner-product search (faiss HNSW) for catalogues too big to score whole.

    Exact scoring costs items x dim per request; the graph visits a few thousand vectors
    instead. Inner product is turned into Euclidean distance by giving every vector one more
    coordinate, sqrt(R^2 - |x|^2) with R the largest norm at build time, and queries a zero
    there (Bachrach et al. 2014): HNSW's recall is far better on a metric than on raw inner
    products. Vectors appended later (new content) need no rebuild; one longer than R gets 0.
    Appends come from a worker thread while requests search, and the graph is not safe for
    both at once, hence the lock.
    """

    def __init__(self, vectors: npt.NDArray[np.float32], neighbours: int = 32) -> None:
        self._lock = threading.Lock()
        self._radius = float(np.linalg.norm(vectors, axis=1).max(initial=0.0))
        self._index = faiss.IndexHNSWFlat(vectors.shape[1] + 1, neighbours)
        self._index.hnsw.efConstruction = 80
        self.add(vectors)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: npt.NDArray[np.float32]) -> None:
        slack = np.sqrt(np.maximum(self._radius**2 - (vectors.astype(np.float64) ** 2).sum(1), 0))
        padded = np.hstack([vectors, slack[:, None]]).astype(np.float32)
        with self._lock:
            self._index.add(padded)

    def search(self, query: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.int64]:
        """Indices of (about) the n vectors with the largest inner product with `query`."""
        padded = np.append(query, np.float32(0.0)).astype(np.float32)[None, :]
        with self._lock:
            self._index.hnsw.efSearch = max(128, n)
            _, found = self._index.search(padded, n)
        hits: npt.NDArray[np.int64] = found[0][found[0] >= 0].astype(np.int64)
        return hits


class ScoreMoments:
    """Exact mean and spread of `rows @ query` over every row, without scoring the rows.

    Keeps the count, sum and sum of outer products of the rows, so one query costs
    dim^2 instead of items x dim, and appending rows is cheap.
    """

    def __init__(self, rows: npt.NDArray[np.float32]) -> None:
        dim = rows.shape[1]
        self._count = 0
        self._sum = np.zeros(dim, np.float64)
        self._outer = np.zeros((dim, dim), np.float64)
        self.add(rows)

    def add(self, rows: npt.NDArray[np.float32]) -> None:
        wide = rows.astype(np.float64)
        self._count += len(wide)
        self._sum += wide.sum(axis=0)
        self._outer += wide.T @ wide

    def mean_std(self, query: npt.NDArray[np.float32]) -> tuple[float, float]:
        q = query.astype(np.float64)
        mean = float(self._sum @ q) / self._count
        second = float(q @ self._outer @ q) / self._count
        return mean, max(second - mean * mean, 0.0) ** 0.5
