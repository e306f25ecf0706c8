"""Serving a large catalogue: the saved ANN index, candidate blending, masks, saved neighbours."""

from pathlib import Path

import numpy as np
import pytest

import contextiq.ml.embedding as embedding_module
from contextiq.ml.blend import BlendRecommender
from contextiq.ml.blend_parts import TransitionsPart
from contextiq.ml.candidates import DenseScores, SparseScores, standardised
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.ml.neighbours import ItemNeighbours
from tests.ml import synthetic
from tests.ml.test_blend import RING, mixed_with_transitions
from tests.ml.test_families import small_embedding

WALKED = {"item-10": 1.0, "item-11": 1.0, "item-30": -1.0}


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


def test_the_embedding_honours_a_mask_through_the_index_and_for_items_added_since() -> None:
    model = EmbeddingRecommender(small_embedding(0))
    model.fit(synthetic.interactions(), synthetic.catalogue())
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


def test_the_index_is_saved_with_the_model_and_memory_mapped_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding_module, "SAVED_INDEX_MIN_ITEMS", 10)
    model = EmbeddingRecommender(small_embedding(0))
    model.fit(synthetic.interactions(), synthetic.catalogue())
    model.save(tmp_path / "embedding")
    assert (tmp_path / "embedding" / embedding_module.INDEX_FILE).exists()
    loaded = EmbeddingRecommender.load(tmp_path / "embedding")
    loaded.enable_ann(min_items=1)
    model.enable_ann(min_items=1)
    history = {"item-1": 1.0, "item-2": 1.0}
    assert loaded.recommend(history, 5, exclude=history) == model.recommend(
        history, 5, exclude=history
    )


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
