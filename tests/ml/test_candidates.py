"""Serving a large catalogue: the saved ANN index, candidate blending, masks, saved neighbours."""

from pathlib import Path

import numpy as np
import pytest

import contextiq.ml.retrieval as retrieval_module
from contextiq.ml.blend import BlendRecommender
from contextiq.ml.blend_choice import Mix, standardise
from contextiq.ml.blend_parts import IndexedScores, TransitionsPart
from contextiq.ml.candidates import DenseScores, SparseScores, standardised
from contextiq.ml.data import Recency, history_vector
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.ml.neighbours import ItemNeighbours
from contextiq.ml.retrieval import VectorRecommender
from contextiq.ml.sequence import SequenceRecommender
from tests.ml import synthetic
from tests.ml.test_blend import RING, blend, drifting_users, mixed_with_transitions
from tests.ml.test_families import small_embedding, small_sequence

WALKED = {"item-10": 1.0, "item-11": 1.0, "item-30": -1.0}
#: The families that score a history as one vector against item rows (`retrieval.py`).
VECTOR_FAMILIES = ("embedding", "sequence")


def vector_family(name: str) -> VectorRecommender:
    model: VectorRecommender = (
        EmbeddingRecommender(small_embedding(0))
        if name == "embedding"
        else SequenceRecommender(small_sequence(0))
    )
    return model.fit(synthetic.interactions(), synthetic.catalogue())


def test_sparse_scores_know_the_whole_catalogues_mean_spread_and_values() -> None:
    dense = np.zeros(1000, np.float32)
    dense[[3, 70, 512]] = [2.0, -1.0, 0.5]
    sparse = SparseScores(1000, np.array([3, 70, 512]), np.array([2.0, -1.0, 0.5], np.float32))
    reference = DenseScores(dense)
    assert sparse.mean == pytest.approx(reference.mean, abs=1e-7)
    assert sparse.spread == pytest.approx(reference.spread, rel=1e-5)
    pool = np.array([0, 3, 70, 511, 512, 999])
    np.testing.assert_allclose(standardised(sparse, pool), standardised(reference, pool), rtol=1e-5)
    assert sparse.best(2, None).tolist() == [3, 512]
    allowed = np.ones(513, np.bool_)
    allowed[3] = False
    assert sparse.best(2, allowed).tolist() == [512, 70]


def test_ease_sparse_scores_are_its_dense_scores() -> None:
    model = EaseRecommender(EaseConfig(l2_grid=(10.0,), max_items=20))
    model.fit(synthetic.interactions(), synthetic.catalogue())
    model.add_items([synthetic.new_item(1)])
    indices, strengths = np.array([0, 5, len(model.item_ids) - 1]), np.ones(3, np.float32)
    scored, values = model.sparse_scores(indices, strengths)
    dense = np.zeros(len(model.item_ids), np.float32)
    dense[scored] = values
    np.testing.assert_array_equal(dense, model.score_indices(indices, strengths))
    assert len(scored) == 21 and np.all(np.diff(scored) > 0)


def test_a_filtered_request_on_the_candidate_path_returns_k_allowed_items() -> None:
    model = mixed_with_transitions()
    model.enable_ann(min_items=1)
    chosen = {f"item-{j}" for j in (1, 2, 25, 26, 27, 33)}
    allowed = np.array([i in chosen for i in model.item_ids])
    found = model.recommend(WALKED, 4, exclude=WALKED, allowed=allowed)
    assert len(found) == 4
    assert {i for i, _ in found} <= chosen
    model.enable_ann(min_items=0)  # exact scoring of the same request agrees
    assert [i for i, _ in model.recommend(WALKED, 4, exclude=WALKED, allowed=allowed)] == [
        i for i, _ in found
    ]


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
def test_a_vector_family_honours_a_mask_through_the_index_and_for_items_added_since(
    family: str,
) -> None:
    model = vector_family(family)
    model.enable_ann(min_items=1)
    model.add_items([synthetic.new_item(2)])
    n = len(model.item_ids)
    user = model.user_vector(np.array([0, 1]), np.ones(2, np.float32))
    for share in (1.0, 0.5, 0.05):  # broad masks go through the index, a selective one exactly
        allowed = np.random.default_rng(0).random(n) < share
        allowed[n - 1] = True
        found = model.nearest(user, 5, allowed)
        assert allowed[found].all()
        exact = np.flatnonzero(allowed)[
            np.argsort(-model.pool_scores(user, np.flatnonzero(allowed)))
        ]
        assert set(exact[:3]) <= set(found.tolist())


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
def test_the_index_is_saved_with_the_model_and_memory_mapped_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    monkeypatch.setattr(retrieval_module, "SAVED_INDEX_MIN_ITEMS", 10)
    model = vector_family(family)
    model.save(tmp_path / family)
    assert (tmp_path / family / retrieval_module.INDEX_FILE).exists()
    loaded = type(model).load(tmp_path / family)
    loaded.enable_ann(min_items=1)
    model.enable_ann(min_items=1)
    history = {"item-1": 1.0, "item-2": 1.0}
    assert loaded.recommend(history, 5, exclude=history) == model.recommend(
        history, 5, exclude=history
    )


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
def test_score_moments_are_the_whole_catalogues_items_added_since_included(family: str) -> None:
    model = vector_family(family)
    model.enable_ann(min_items=1)
    model.add_items([synthetic.new_item(2)])
    indices, strengths = np.array([12, 13, 14]), np.ones(3, np.float32)
    dense = model.score_indices(indices, strengths)
    mean, spread = model.score_mean_std(model.user_vector(indices, strengths))
    assert len(dense) == len(model.item_ids)
    assert mean == pytest.approx(float(dense.mean()), abs=1e-5)
    assert spread == pytest.approx(float(dense.std()), rel=1e-4)


def test_the_sequence_on_its_index_follows_an_interaction_made_a_second_ago() -> None:
    model = SequenceRecommender(small_sequence(0)).fit(drifting_users())
    model.enable_ann(min_items=1)
    walked = {f"item-{j}": 1.0 for j in range(10, 20)}  # oldest first
    assert model.recommend(walked, 1, exclude=walked)[0][0] == "item-20"
    walked["item-20"] = 1.0  # the event just recorded, read with the stored history
    assert model.recommend(walked, 1, exclude=walked)[0][0] == "item-21"
    session = {"item-5": 1.0, "item-6": 1.0}  # an anonymous session's two events
    assert model.recommend(session, 1, exclude=session)[0][0] == "item-7"


def test_a_blend_mixes_the_sequence_part_from_its_index_on_the_exact_scale() -> None:
    events = drifting_users()
    model = blend(n_parts=4).fit(events)
    model.mix = Mix({"embedding": 0.5, "transitions": 0.0, "sequence": 0.4}, Recency(1.0))
    model = model.refit(events)
    walked = {f"item-{j}": 1.0 for j in range(10, 20)}
    exact = model.recommend(walked, 5, exclude=walked)
    model.enable_ann(min_items=1)
    part = model.parts["sequence"]
    scored = part.scored(*history_vector(walked, model.item_map))
    assert isinstance(scored, IndexedScores)
    every = np.arange(len(model.item_ids))
    dense = part.score_indices(*history_vector(walked, model.item_map))
    np.testing.assert_allclose(standardised(scored, every), standardise(dense), atol=1e-4)
    candidates = model.recommend(walked, 5, exclude=walked)
    assert [i for i, _ in candidates] == [i for i, _ in exact]
    assert candidates[0][0] == "item-20"


def test_neighbours_are_saved_with_the_blend_and_read_back(tmp_path: Path) -> None:
    model = mixed_with_transitions()
    computed = {item: model.similar_items(item, 10) for item in ("item-0", "item-17")}
    model.save(tmp_path / "blend")
    loaded = BlendRecommender.load(tmp_path / "blend")
    assert loaded._neighbours is not None and len(loaded._neighbours) == RING
    for item, expected in computed.items():
        found = loaded.similar_items(item, 10)
        assert [i for i, _ in found] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], rtol=1e-5)


def test_items_added_after_saving_fall_back_to_scoring(tmp_path: Path) -> None:
    mixed_with_transitions().save(tmp_path / "blend")
    model = BlendRecommender.load(tmp_path / "blend")
    model.add_items([synthetic.new_item(0)])
    assert model._neighbours is not None and len(model._neighbours) == RING
    assert len(model.similar_items(synthetic.new_item(0).item_id, 5)) == 5


def test_a_table_of_neighbours_pads_items_with_fewer() -> None:
    found = np.array([[1, -1, -1, -1], [0, 2, -1, -1], [-1, -1, -1, -1]])
    similarity = np.array([[0.9, -np.inf, -np.inf, -np.inf], [0.9, 0.1, -np.inf, -np.inf]])
    similarity = np.vstack([similarity, np.full(4, -np.inf)]).astype(np.float32)
    table = ItemNeighbours.compute(lambda items: (found[items], similarity[items]), 3, depth=3)
    assert table.of(0, 3)[0].tolist() == [1]
    assert table.of(1, 1)[0].tolist() == [0]
    assert table.of(2, 3)[0].tolist() == []
    assert np.isfinite(table.similarities).all()


def test_neighbours_saved_from_the_candidate_path_are_each_items_similar_items(
    tmp_path: Path,
) -> None:
    model = mixed_with_transitions()
    model.enable_ann(min_items=1)  # a large catalogue's path, as saving one takes it
    expected = {item: model.similar_items(item, 10) for item in model.item_ids}
    model.save(tmp_path / "blend")
    loaded = BlendRecommender.load(tmp_path / "blend")
    for item, similar in expected.items():
        found = loaded.similar_items(item, 10)
        assert [i for i, _ in found] == [i for i, _ in similar]
        np.testing.assert_allclose([s for _, s in found], [s for _, s in similar], rtol=1e-4)


def test_transition_scores_are_the_same_summed_sparsely_or_densely() -> None:
    model = mixed_with_transitions().parts["transitions"]
    assert isinstance(model, TransitionsPart)
    indices, strengths = np.arange(12), np.linspace(0.5, 2.0, 12).astype(np.float32)
    few, _ = model.model.sparse_scores(indices[:1], strengths[:1])  # a few steps: sorted
    scored, values = model.model.sparse_scores(indices, strengths)  # many: summed densely
    dense = np.zeros(model.model.size, np.float32)
    dense[scored] = values
    expected = np.asarray(model.model._matrix[indices].T @ strengths).ravel()
    np.testing.assert_allclose(dense[: len(expected)], expected, rtol=1e-5)
    assert np.all(np.diff(scored) > 0) and np.all(np.diff(few) > 0)
