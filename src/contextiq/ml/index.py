"""Top-k retrieval: exact over a dense score vector, or approximate through an ANN index."""

from pathlib import Path

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


def top_k_rows(
    scores: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """`top_k` of every row at once: column indices and scores, -1 and -inf past a row's end.

    A row has fewer than k entries when fewer than k of its scores are finite (-inf marks
    entries to leave out). Ties are broken by column, as in `top_k`.
    """
    rows, width = scores.shape
    k = min(k, width)
    if k <= 0:
        return np.zeros((rows, 0), np.int64), np.zeros((rows, 0), np.float32)
    negated = -scores
    chosen = np.argpartition(negated, k - 1, axis=1)[:, :k] if k < width else None
    if chosen is None:
        chosen = np.broadcast_to(np.arange(width), (rows, width))
    order = np.lexsort((chosen, np.take_along_axis(negated, chosen, axis=1)), axis=1)
    best = np.take_along_axis(chosen, order, axis=1).astype(np.int64)
    values = np.take_along_axis(scores, best, axis=1).astype(np.float32)
    best[~np.isfinite(values)] = -1
    return best, values


class InnerProductIndex:
    """Approximate maximum-inner-product search (faiss IVF-Flat) over a fixed set of rows.

    Exact scoring reads every item row per request (100,000 x 200 floats: 80 MB); the index
    scans only the rows of the few clusters nearest the query (`PROBE_SHARE` of them).
    Inner product becomes Euclidean distance by giving every row one more coordinate,
    sqrt(R^2 - |x|^2) with R the largest norm, and queries a zero there (Bachrach et al.
    2014): clusters and probes work far better on a metric. The index is saved with the
    model version and memory-mapped on load (`IO_FLAG_MMAP_IFC`), so every serving process
    on a host shares one copy; it is never written after that, so searches need no lock.
    Rows added later (new content) are the caller's to score exactly.
    """

    #: Share of the clusters a search visits by default (about that share of the rows is
    #: scanned); a model whose rows cluster less sharply asks for more (`probe_share`).
    PROBE_SHARE = 1 / 16

    def __init__(self, index: faiss.Index, probe_share: float = PROBE_SHARE) -> None:
        self._index = index
        self._lists = int(faiss.extract_index_ivf(index).nlist)
        self.probe_share = probe_share

    @classmethod
    def build(
        cls, vectors: npt.NDArray[np.float32], seed: int = 0, probe_share: float = PROBE_SHARE
    ) -> "InnerProductIndex":
        """Cluster a seeded sample of the rows (4 sqrt(n) clusters) and file every row."""
        rows = np.ascontiguousarray(vectors, np.float32)
        radius = float(np.linalg.norm(rows, axis=1).max(initial=0.0))
        slack = np.sqrt(np.maximum(radius**2 - (rows.astype(np.float64) ** 2).sum(1), 0))
        padded = np.hstack([rows, slack[:, None]]).astype(np.float32)
        lists = max(1, min(int(4 * np.sqrt(len(rows))), len(rows) // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(padded.shape[1]), padded.shape[1], lists)
        sample = np.random.default_rng(seed).permutation(len(rows))[: 64 * lists]
        index.train(padded[np.sort(sample)])
        index.add(padded)
        return cls(index, probe_share)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, probe_share: float = PROBE_SHARE) -> "InnerProductIndex":
        """The saved index with its rows memory-mapped read-only (shared between processes)."""
        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), probe_share)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(
        self,
        query: npt.NDArray[np.float32],
        n: int,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Indices of (about) the n rows with the largest inner product with `query`.

        With `allowed` (a mask over the rows; rows past its end are not allowed), only
        allowed rows are returned, and the search visits more clusters the fewer rows pass,
        so it still finds about n of them.
        """
        total = len(self)
        n = min(n, total)
        if n <= 0:
            return np.empty(0, np.int64)
        params = faiss.SearchParametersIVF()
        share = self.probe_share
        bits = None
        if allowed is not None:
            mask = np.zeros(total, np.bool_)
            mask[: min(len(allowed), total)] = allowed[:total]
            passing = int(np.count_nonzero(mask))
            if passing == 0:
                return np.empty(0, np.int64)
            share = min(1.0, share * total / passing)
            bits = np.packbits(mask, bitorder="little")  # read by the selector while searching
            params.sel = faiss.IDSelectorBitmap(total, faiss.swig_ptr(bits))
        params.nprobe = max(1, min(self._lists, round(share * self._lists)))
        padded = np.append(query, np.float32(0.0)).astype(np.float32)[None, :]
        _, found = self._index.search(padded, n, params=params)
        hits: npt.NDArray[np.int64] = found[0][found[0] >= 0].astype(np.int64)
        return hits

    def search_rows(self, queries: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.int64]:
        """`search` of many queries (rows) at once, no mask: -1 past what a row found.

        One call per batch: the per-query cost of a call from Python (about as much as the
        scan itself at this size) is paid once. What the saved item neighbours need.
        """
        n = min(n, len(self))
        if n <= 0:
            return np.full((len(queries), 0), -1, np.int64)
        params = faiss.SearchParametersIVF()
        params.nprobe = max(1, min(self._lists, round(self.probe_share * self._lists)))
        padded = np.hstack([queries, np.zeros((len(queries), 1))]).astype(np.float32)
        _, found = self._index.search(padded, n, params=params)
        return np.asarray(found, np.int64)


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

    def mean_std_rows(
        self, queries: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """`mean_std` of many queries (rows) at once."""
        q = queries.astype(np.float64)
        mean = (q @ self._sum) / self._count
        second = ((q @ self._outer) * q).sum(axis=1) / self._count
        return mean, np.sqrt(np.maximum(second - mean * mean, 0.0))
