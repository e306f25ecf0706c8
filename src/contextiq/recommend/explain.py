"""Reasons a person can read: which of their items led to each recommendation."""

from collections.abc import Sequence

from contextiq.ml.base import Recommender


def anchors(
    model: Recommender,
    recent_positive: Sequence[str],
    candidates: Sequence[str],
    sources: int = 5,
    depth: int = 50,
) -> dict[str, str]:
    """Map each candidate to the recent item it is most similar to, when there is one.

    Only a candidate among a source's `depth` nearest neighbours counts as led by it, so a
    weak resemblance never becomes the stated reason.
    """
    wanted = set(candidates)
    best: dict[str, tuple[float, str]] = {}
    for source in recent_positive[:sources]:
        for item_id, similarity in model.similar_items(source, depth):
            if item_id in wanted and similarity > best.get(item_id, (float("-inf"), ""))[0]:
                best[item_id] = (similarity, source)
    return {item: source for item, (_, source) in best.items()}
