"""Served item tables: memory-mapped from the registry and grown without copying the base."""

from pathlib import Path

import numpy as np

from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.ml.rows import GrowingRows, load_array, save_arrays
from tests.ml import synthetic
from tests.ml.test_families import small_embedding


def test_growing_rows_reads_like_one_matrix_and_never_copies_the_base() -> None:
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    table = GrowingRows(base)
    for n in range(20):  # past the tail's first room
        table.append(np.full((1, 3), 100 + n, np.float32))
    whole = np.vstack([base, 100 + np.repeat(np.arange(20, dtype=np.float32), 3).reshape(20, 3)])
    assert len(table) == 24 and table.shape == (24, 3)
    picks = np.array([0, 3, 4, 23, 1], np.int64)
    np.testing.assert_array_equal(table[picks], whole[picks])
    vector = np.array([1.0, -2.0, 0.5], np.float32)
    np.testing.assert_allclose(table @ vector, whole @ vector)
    np.testing.assert_array_equal(table.columns(np.array([2, 0])), whole[:, [2, 0]])
    np.testing.assert_array_equal(np.asarray(table), whole)
    assert table.base is base


def test_saved_arrays_load_as_read_only_memory_maps(tmp_path: Path) -> None:
    save_arrays(tmp_path, table=np.ones((3, 2), np.float32))
    loaded = load_array(tmp_path, "table")
    assert isinstance(loaded.base, np.memmap) and not loaded.flags.writeable
    np.testing.assert_array_equal(loaded, np.ones((3, 2)))


def test_a_loaded_embedding_maps_its_tables_and_adds_items_beside_them(tmp_path: Path) -> None:
    model = EmbeddingRecommender(small_embedding(0)).fit(
        synthetic.interactions(), synthetic.catalogue()
    )
    model.save(tmp_path / "model")
    loaded = EmbeddingRecommender.load(tmp_path / "model")
    mapped = loaded._item_out.base
    assert isinstance(mapped.base, np.memmap)
    loaded.add_items([synthetic.new_item(1)])
    assert loaded._item_out.base is mapped and len(loaded._item_out) == len(mapped) + 1
    history = {"item-12": 1.0}
    model.add_items([synthetic.new_item(1)])
    assert loaded.recommend(history, 10) == model.recommend(history, 10)


def test_an_embedding_saved_in_one_archive_still_loads(tmp_path: Path) -> None:
    model = EmbeddingRecommender(small_embedding(0)).fit(
        synthetic.interactions(), synthetic.catalogue()
    )
    model.save(tmp_path / "model")
    names = ("item_in", "item_out", "bias", "token_in", "token_out", "token_bias")
    arrays = {n: np.load(tmp_path / "model" / f"{n}.npy") for n in names}
    for n in names:
        (tmp_path / "model" / f"{n}.npy").unlink()
    np.savez(tmp_path / "model" / "arrays.npz", **arrays)
    loaded = EmbeddingRecommender.load(tmp_path / "model")
    assert loaded.recommend({"item-3": 1.0}, 10) == model.recommend({"item-3": 1.0}, 10)


def test_ease_keeps_added_items_apart_from_its_mapped_weights(tmp_path: Path) -> None:
    model = EaseRecommender(EaseConfig(l2_grid=(10.0,))).fit(
        synthetic.interactions(), synthetic.catalogue()
    )
    model.save(tmp_path / "model")
    loaded = EaseRecommender.load(tmp_path / "model")
    assert isinstance(loaded._weights.base, np.memmap)
    for m in (model, loaded):
        m.add_items([synthetic.new_item(1)])
        m.add_items([synthetic.new_item(2)])
    history = {"item-12": 1.0, "new-1": 2.0}
    np.testing.assert_allclose(loaded.scores(history), model.scores(history), rtol=1e-6)
    np.testing.assert_allclose(
        loaded.score_histories([history])[0], loaded.scores(history), rtol=1e-5, atol=1e-6
    )
    loaded.save(tmp_path / "again")
    again = EaseRecommender.load(tmp_path / "again")
    assert again.item_ids == loaded.item_ids
    np.testing.assert_allclose(again.scores(history), loaded.scores(history), rtol=1e-6)
