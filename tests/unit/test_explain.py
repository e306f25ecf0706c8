"""Reasons: the recent item each candidate is nearest to, with neighbours remembered."""

from collections.abc import Sequence

from contextiq.ml.base import ItemMask
from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.recommend.explain import Explainer
from tests.ml import synthetic
from tests.ml.test_families import small_embedding


class Counting(EmbeddingRecommender):
    calls: list[str]

    def similar_items(
        self, item_id: str, k: int, allowed: ItemMask | None = None
    ) -> list[tuple[str, float]]:
        self.calls.append(item_id)
        return super().similar_items(item_id, k, allowed)


def model() -> Counting:
    fitted = Counting(small_embedding(0)).fit(synthetic.interactions(), synthetic.catalogue())
    fitted.calls = []
    return fitted


def explain(
    explainer: Explainer, m: Counting, version: str, recent: Sequence[str]
) -> dict[str, str]:
    candidates = [i for i, _ in m.recommend(dict.fromkeys(recent, 1.0), 10, exclude=recent)]
    return explainer.anchors(m, version, recent, candidates)


def test_candidates_are_anchored_to_a_recent_item_of_their_cluster() -> None:
    m = model()
    because = explain(Explainer(), m, "v1", ["item-12", "item-0"])
    assert because
    assert all(synthetic.cluster_of(c) == synthetic.cluster_of(s) for c, s in because.items())


def test_neighbours_are_found_once_per_item_and_model() -> None:
    m, explainer = model(), Explainer()
    first = explain(explainer, m, "v1", ["item-12", "item-0"])
    assert explain(explainer, m, "v1", ["item-0", "item-13"]) is not None
    assert sorted(m.calls) == ["item-0", "item-12", "item-13"]
    assert explain(explainer, m, "v1", ["item-12", "item-0"]) == first
    explain(explainer, m, "v2", ["item-12"])  # a new model: neighbours found afresh
    m.add_items([synthetic.new_item(1)])
    explain(explainer, m, "v2", ["item-12"])  # new content may be anyone's neighbour
    assert m.calls.count("item-12") == 3


def test_memory_stays_bounded_and_unknown_items_are_skipped() -> None:
    m, explainer = model(), Explainer(remember=2)
    explain(explainer, m, "v1", ["item-1", "item-2", "item-3", "nobody"])
    assert len(explainer._neighbours) == 2
    assert "nobody" not in m.calls
