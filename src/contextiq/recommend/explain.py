"""Reasons a person can read: which of their items led to each recommendation."""

from collections import OrderedDict
from collections.abc import Sequence

from contextiq.ml.base import Recommender
from contextiq.ml.neighbours import DEPTH

#: An item's nearest neighbours as (ids, similarities), best first.
Neighbours = tuple[tuple[str, ...], tuple[float, ...]]


def nearest_neighbours(model: Recommender, item_id: str, depth: int) -> Neighbours:
    found = model.similar_items(item_id, depth)
    return tuple(i for i, _ in found), tuple(s for _, s in found)


class Explainer:
    """Maps candidates to the recent item they are most similar to, when there is one.

    Only a candidate among a source's `depth` nearest neighbours counts as led by it, so a
    weak resemblance never becomes the stated reason. A blend reads them from the table saved
    with it (`ml/neighbours.py`); other models score the catalogue to find them, so they are
    remembered per model version and size (popular items recur in many histories), in
    bounded memory.
    """

    def __init__(self, sources: int = 5, depth: int = DEPTH, remember: int = 20_000) -> None:
        self.sources = sources
        self.depth = depth
        self.remember = remember
        self._version: tuple[str | None, int] | None = None
        self._neighbours: OrderedDict[str, Neighbours] = OrderedDict()

    def anchors(
        self,
        model: Recommender,
        version: str | None,
        recent_positive: Sequence[str],
        candidates: Sequence[str],
    ) -> dict[str, str]:
        # Items added since (new content) may be anyone's neighbour now: start afresh.
        current = (version, len(model.item_ids))
        if current != self._version:
            self._version, self._neighbours = current, OrderedDict()
        sources = [s for s in recent_positive[: self.sources] if model.has_item(s)]
        found: dict[str, Neighbours] = {}
        for source in sources:
            known = self._neighbours.get(source)
            if known is None:
                known = self._neighbours[source] = nearest_neighbours(model, source, self.depth)
            self._neighbours.move_to_end(source)
            found[source] = known
        while len(self._neighbours) > self.remember:
            self._neighbours.popitem(last=False)
        wanted = set(candidates)
        best: dict[str, tuple[float, str]] = {}
        for source, (ids, similarities) in found.items():
            for item_id, similarity in zip(ids, similarities, strict=True):
                if item_id in wanted and similarity > best.get(item_id, (float("-inf"), ""))[0]:
                    best[item_id] = (similarity, source)
        return {item: source for item, (_, source) in best.items()}
