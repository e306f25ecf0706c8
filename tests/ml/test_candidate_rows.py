"""Candidates for many histories at once: every batched form agrees with its one-row form."""

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from contextiq.ml.blend import BlendRecommender
from contextiq.ml.candidate_rows import DenseRows, SparseRows, distinct_rows, standardised_rows
from contextiq.ml.candidates import DenseScores, SparseScores, standardised
from contextiq.ml.data import IdMap, history_matrix, history_vector, order_matrix
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.ml.index import InnerProductIndex, top_k, top_k_rows
from contextiq.ml.retrieval import VectorRecommender
from contextiq.ml.sequence import SequenceRecommender
from tests.ml import synthetic
from tests.ml.test_blend import mixed_with_sequence, mixed_with_transitions
from tests.ml.test_families import small_embedding, small_sequence
from tests.ml.test_index import clustered

HISTORIES = [
    {"item-10": 1.0, "item-11": 1.0, "item-30": -1.0},
    {"item-3": 2.0},
    {"item-0": 1.0, "item-21": 1.0},
    {"no-such-item": 1.0},
]

#: Histories of one length whose order is not their items' (the sequential part reads it).
UNSORTED = [
    {"item-12": 1.0, "item-11": 1.0, "item-10": 1.0},
    {"item-25": 1.0, "item-3": 2.0, "item-24": 1.0},
    {"item-10": 1.0, "item-11": 1.0, "item-30": -1.0},
]


def test_top_k_rows_is_top_k_of_each_row() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 40)).astype(np.float32)
    scores[1, :37] = -np.inf  # three finite entries: the row ends early
    scores[2, 5:9] = 1.5  # ties: broken by column
    best, values = top_k_rows(scores, 5)
    for row, (found, got) in enumerate(zip(best, values, strict=True)):
        expected, scored = top_k(scores[row], 5)
        assert found[found >= 0].tolist() == expected.tolist()
        np.testing.assert_array_equal(got[found >= 0], scored)
    assert best[1].tolist()[3:] == [-1, -1]


def test_sparse_and_dense_rows_agree_with_their_one_row_forms() -> None:
    rng = np.random.default_rng(1)
    dense = np.where(rng.random((4, 300)) < 0.05, rng.normal(size=(4, 300)), 0).astype(np.float32)
    dense[3] = 0  # a history that scores nothing
    pool = np.sort(rng.choice(300, size=(4, 12)), axis=1)
    pool[0, :2] = -1
    for batched, one in (
        (SparseRows(sp.csr_matrix(dense)), _sparse_scores),
        (DenseRows(dense), DenseScores),
    ):
        best = batched.best(5)
        standard = standardised_rows(batched, pool)
        for row in range(4):
            single = one(dense[row])
            assert batched.mean[row] == pytest.approx(single.mean, abs=1e-6)
            assert batched.spread[row] == pytest.approx(single.spread, rel=1e-5)
            assert best[row][best[row] >= 0].tolist() == single.best(5, None).tolist()
            valid = pool[row] >= 0
            np.testing.assert_allclose(
                standard[row][valid], standardised(single, pool[row][valid]), rtol=1e-5
            )


def _sparse_scores(row: np.ndarray) -> SparseScores:
    found = np.flatnonzero(row)
    return SparseScores(len(row), found, row[found])


def test_distinct_rows_keeps_each_item_once() -> None:
    pool = np.array([[4, 2, 4, -1, 2], [1, 1, 1, 1, 1]])
    assert distinct_rows(pool).tolist() == [[-1, 2, -1, 4, -1], [1, -1, -1, -1, -1]]


def test_ease_rows_are_its_sparse_scores_one_history_at_a_time() -> None:
    model = EaseRecommender(EaseConfig(l2_grid=(10.0,), max_items=20))
    model.fit(synthetic.interactions(), synthetic.catalogue())
    model.add_items([synthetic.new_item(1)])
    histories = [*HISTORIES, {synthetic.new_item(1).item_id: 1.0}]
    rows = model.sparse_score_rows(history_matrix(histories, model.item_map))
    for row, history in enumerate(histories):
        scored, values = model.sparse_scores(*history_vector(history, model.item_map))
        start, end = rows.indptr[row], rows.indptr[row + 1]
        assert rows.indices[start:end].tolist() == scored.tolist()
        np.testing.assert_allclose(rows.data[start:end], values, rtol=1e-5, atol=1e-7)
    assert rows.indptr[4] == rows.indptr[3]  # no item EASE knows: nothing scored


#: How a family reads histories in batches (strengths, or order).
RowsOf = Callable[[list[dict[str, float]], IdMap], sp.csr_matrix]


def _embedding() -> tuple[VectorRecommender, RowsOf]:
    return EmbeddingRecommender(small_embedding(0)), history_matrix


def _sequence() -> tuple[VectorRecommender, RowsOf]:
    return SequenceRecommender(small_sequence(0)), order_matrix


@pytest.mark.parametrize("family", [_embedding, _sequence])
def test_a_vector_family_answers_many_users_as_it_answers_one(
    family: Callable[[], tuple[VectorRecommender, RowsOf]],
) -> None:
    model, rows_of = family()
    model.fit(synthetic.interactions(), synthetic.catalogue())
    model.enable_ann(min_items=1)
    model.add_items([synthetic.new_item(2)])  # scored exactly, beside the index
    histories = [*HISTORIES, *UNSORTED]
    users = model.user_rows(rows_of(histories, model.item_map))
    nearest = model.nearest_rows(users, 6)
    pool = np.sort(nearest, axis=1)
    scores = model.pool_score_rows(users, pool)
    means, spreads = model.score_mean_std_rows(users)
    for row, history in enumerate(histories):
        user = model.user_vector(*history_vector(history, model.item_map))
        np.testing.assert_allclose(users[row], user, rtol=1e-5, atol=1e-6)
        assert set(nearest[row][nearest[row] >= 0]) == set(model.nearest(user, 6).tolist())
        np.testing.assert_allclose(scores[row], model.pool_scores(user, pool[row]), rtol=1e-5)
        mean, spread = model.score_mean_std(user)
        assert means[row] == pytest.approx(mean) and spreads[row] == pytest.approx(spread)


def test_an_index_searched_in_a_batch_finds_what_it_finds_one_query_at_a_time() -> None:
    rows = clustered(3000, 16, 4)
    index = InnerProductIndex.build(rows)
    found = index.search_rows(rows[:20], 10)
    for query, batched in zip(rows[:20], found, strict=True):
        assert batched.tolist() == index.search(query, 10).tolist()


@pytest.mark.parametrize("candidates", [False, True])
@pytest.mark.parametrize("mixed", [mixed_with_transitions, mixed_with_sequence])
def test_a_blend_recommends_for_many_histories_as_for_each(
    candidates: bool, mixed: Callable[[], BlendRecommender]
) -> None:
    """A batch of histories of one length: candidates are drawn as deep as its longest needs."""
    model = mixed()
    model.enable_ann(min_items=1 if candidates else 0)
    ids = model.item_ids
    for histories in (UNSORTED, [{item: 1.0} for item in ids]):
        found, scores = model.recommend_histories(histories, 8)
        for row, history in enumerate(histories):
            expected = model.recommend(history, 8, exclude=history)
            assert [ids[j] for j in found[row] if j >= 0] == [i for i, _ in expected]
            np.testing.assert_allclose(
                scores[row][: len(expected)], [s for _, s in expected], rtol=1e-4, atol=1e-6
            )
