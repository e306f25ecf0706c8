"""Re-ranking a list of recommendations for variety (`ml.diversity.mmr`) and a category cap."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from contextiq.domain import Recommendation
from contextiq.ml.diversity import mmr, scaled


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
    """`mmr` over a pool of recommendations (relevance: their scores, scaled over the pool).

    With diversity 0 and no cap this is the pool's own order.
    """
    if not items or (diversity <= 0 and max_per_category is None):
        return list(items[:limit])
    relevance = scaled(np.array([i.score for i in items], np.float64))
    sims = similarities(items, vectors) if diversity > 0 else None
    categories = [i.category for i in items]
    return [items[j] for j in mmr(relevance, limit, diversity, sims, categories, max_per_category)]
