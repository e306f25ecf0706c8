from pathlib import Path

import numpy as np
import numpy.typing as npt

from contextiq.ml.index import InnerProductIndex, ScoreMoments, top_k


def clustered(n: int, dim: int, seed: int) -> npt.NDArray[np.float32]:
    """Rows around a few dozen centres, like trained item vectors."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    rows = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, dim))
    return rows.astype(np.float32)


def recall(index: InnerProductIndex, rows: npt.NDArray[np.float32], seed: int) -> float:
    found = []
    for query in np.random.default_rng(seed).normal(size=(50, rows.shape[1])).astype(np.float32):
        exact, _ = top_k(rows @ query, 10)
        found.append(len(set(exact) & set(index.search(query, 10))) / 10)
    return float(np.mean(found))


def test_ann_index_finds_most_of_the_exact_top_10() -> None:
    rows = clustered(5000, 32, 0)
    assert recall(InnerProductIndex.build(rows), rows, 1) >= 0.9


def test_saved_index_reads_back_memory_mapped_with_the_same_answers(tmp_path: Path) -> None:
    rows = clustered(3000, 16, 2)
    index = InnerProductIndex.build(rows)
    index.save(tmp_path / "ann.faiss")
    loaded = InnerProductIndex.load(tmp_path / "ann.faiss")
    assert len(loaded) == len(index) == 3000
    for query in rows[:20]:
        assert loaded.search(query, 10).tolist() == index.search(query, 10).tolist()


def test_search_returns_only_allowed_rows_and_still_finds_them() -> None:
    rows = clustered(4000, 16, 3)
    index = InnerProductIndex.build(rows)
    allowed = np.zeros(4000, np.bool_)
    allowed[::50] = True  # 80 rows pass: the search must visit far more clusters
    for query in rows[:10]:
        found = index.search(query, 10, allowed[:3999])  # rows past the mask do not pass
        assert len(found) == 10
        assert allowed[found].all() and 3999 not in found
        exact, _ = top_k(rows @ query, 10, allowed=allowed)
        assert len(set(exact) & set(found)) >= 8


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


def test_a_deeper_probe_finds_what_loosely_clustered_rows_hide(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).normal(size=(5000, 32)).astype(np.float32)  # no clusters
    shallow = InnerProductIndex.build(rows)
    InnerProductIndex.build(rows, probe_share=1 / 4).save(tmp_path / "deep.faiss")
    deep = InnerProductIndex.load(tmp_path / "deep.faiss", probe_share=1 / 4)
    assert recall(deep, rows, 1) >= 0.7 > recall(shallow, rows, 1)
