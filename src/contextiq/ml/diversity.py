"""Variety in a ranked list: maximal marginal relevance (Carbonell & Goldstein 1998) and
intra-list diversity; shared by the read path and offline evaluation."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def mmr(
    relevance: npt.NDArray[np.float64],
    limit: int,
    diversity: float,
    sims: npt.NDArray[np.float64] | None,
    categories: Sequence[str] | None = None,
    max_per_category: int | None = None,
) -> list[int]:
    """Indices picked greedily by (1 - d) * relevance - d * (similarity to those picked).

    `relevance` is on 0..1; a category at `max_per_category` yields no further picks, so the
    answer may be shorter than `limit` when too few categories are in the pool.
    """
    nearest = np.zeros(len(relevance))
    open_ = np.ones(len(relevance), np.bool_)
    counts: dict[str, int] = {}
    picked: list[int] = []
    while len(picked) < limit and open_.any():
        value = (1 - diversity) * relevance - diversity * nearest
        value[~open_] = -np.inf
        j = int(np.argmax(value))
        open_[j] = False
        if categories is not None and max_per_category is not None:
            if counts.get(categories[j], 0) >= max_per_category:
                continue
            counts[categories[j]] = counts.get(categories[j], 0) + 1
        picked.append(j)
        if sims is not None and diversity > 0:
            nearest = np.maximum(nearest, sims[j])
    return picked


def scaled(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Scores on 0..1 over the pool (all 1 when they are equal)."""
    span = scores.max() - scores.min() if len(scores) else 0.0
    if span <= 0:
        return np.ones(len(scores))
    out: npt.NDArray[np.float64] = (scores - scores.min()) / span
    return out


def intra_list_diversity(vectors: npt.NDArray[np.float32]) -> float:
    """Mean pairwise cosine distance within one list (0: all alike); 0.0 for fewer than two."""
    n = len(vectors)
    if n < 2:
        return 0.0
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    pairs = n * (n - 1)
    return float((pairs - (sims.sum() - np.trace(sims))) / pairs)
