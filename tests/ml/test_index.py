import numpy as np

from contextiq.ml.index import InnerProductIndex, ScoreMoments, top_k


def test_ann_index_finds_most_of_the_exact_top_10() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5000, 32)).astype(np.float32)
    index = InnerProductIndex(vectors)
    recalls = []
    for query in rng.normal(size=(50, 32)).astype(np.float32):
        exact, _ = top_k(vectors @ query, 10)
        recalls.append(len(set(exact) & set(index.search(query, 10))) / 10)
    assert np.mean(recalls) >= 0.9


def test_appended_vectors_are_searchable() -> None:
    index = InnerProductIndex(2 * np.eye(4, dtype=np.float32)[:3])
    index.add(np.array([[0, 0, 0, 1.5]], np.float32))
    assert len(index) == 4
    assert index.search(np.array([0, 0, 0, 1], np.float32), 1).tolist() == [3]


def test_score_moments_match_scoring_every_row() -> None:
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(300, 6)).astype(np.float32)
    moments = ScoreMoments(rows[:200])
    moments.add(rows[200:])
    query = rng.normal(size=6).astype(np.float32)
    mean, spread = moments.mean_std(query)
    scores = rows.astype(np.float64) @ query
    assert np.isclose(mean, scores.mean(), rtol=1e-6)
    assert np.isclose(spread, scores.std(), rtol=1e-6)
