"""Re-ranking for variety: maximal marginal relevance (Carbonell & Goldstein 1998) and a
per-category cap, over a candidate pool already ranked by relevance."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from contextiq.domain import Recommendation


def similarities(
    items: Sequence[Recommendation], vectors: npt.NDArray[np.float32] | None
) -> npt.NDArray[np.float64]:
    """Pairwise cosine similarity of the items' embeddings; same-category (1/0) without them."""
    if vectors is not None and len(vectors) == len(items):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.maximum(norms, 1e-12)
        return np.asarray(unit @ unit.T, np.float64)
    categories = np.array([i.category for i in items])
    same: npt.NDArray[np.float64] = (categories[:, None] == categories[None, :]).astype(np.float64)
    return same


def rerank(
    items: Sequence[Recommendation],
    limit: int,
    diversity: float,
    max_per_category: int | None,
    vectors: npt.NDArray[np.float32] | None,
) -> list[Recommendation]:
    """Pick `limit` items greedily by (1 - d) * relevance - d * (similarity to those picked).

    Relevance is the items' score scaled to 0..1 over the pool; with diversity 0 and no cap
    this is the pool's own order. A category at its cap yields no further items, so the list
    may come out shorter when the pool holds too few categories.
    """
    if not items or (diversity <= 0 and max_per_category is None):
        return list(items[:limit])
    scores = np.array([i.score for i in items], np.float64)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(len(items))
    sims = similarities(items, vectors) if diversity > 0 else None
    nearest = np.zeros(len(items))
    open_ = np.ones(len(items), np.bool_)
    counts: dict[str, int] = {}
    picked: list[int] = []
    while len(picked) < limit and open_.any():
        value = (1 - diversity) * relevance - diversity * nearest
        value[~open_] = -np.inf
        j = int(np.argmax(value))
        open_[j] = False
        category = items[j].category
        if max_per_category is not None and counts.get(category, 0) >= max_per_category:
            continue
        counts[category] = counts.get(category, 0) + 1
        picked.append(j)
        if sims is not None:
            nearest = np.maximum(nearest, sims[j])
    return [items[j] for j in picked]


def intra_list_diversity(vectors: npt.NDArray[np.float32]) -> float:
    """Mean pairwise cosine distance within one list (0: all alike); 0.0 for fewer than two."""
    n = len(vectors)
    if n < 2:
        return 0.0
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    pairs = n * (n - 1)
    return float((pairs - (sims.sum() - np.trace(sims))) / pairs)
