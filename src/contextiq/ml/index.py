"""Exact top-k retrieval over a dense score vector (the whole catalogue)."""

import numpy as np
import numpy.typing as npt


def top_k(
    scores: npt.NDArray[np.float32], k: int, exclude: npt.NDArray[np.int64] | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Indices and scores of the k best entries, best first; excluded indices never appear.

    argpartition keeps this O(n) on the request path, where n is a few thousand items.
    Ties are broken by index so results are deterministic.
    """
    if exclude is not None and len(exclude):
        scores = scores.copy()
        scores[exclude] = -np.inf
    available = int(np.isfinite(scores).sum())
    k = min(k, available)
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))
    best = candidates[order].astype(np.int64)
    return best, scores[best].astype(np.float32)
