import math

import numpy as np
import pytest

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.data import IdMap, Recency, build_matrix, history_vector, signal_strength
from contextiq.ml.features import FeatureVocabulary, item_tokens
from contextiq.ml.index import top_k


def test_build_matrix_holds_weights_past_float32_at_its_largest() -> None:
    # 1e300 is a finite float yet inf in float32, and so is the sum of two 3e38s: one inf
    # made the whole fit NaN (EASE's Cholesky refused it).
    events = [
        WeightedInteraction("u1", "a", 1e300),
        WeightedInteraction("u1", "b", 3e38),
        WeightedInteraction("u1", "b", 3e38),
        WeightedInteraction("u2", "a", -1e300),
        WeightedInteraction("u2", "b", 2.0),
    ]
    weights = build_matrix(events).weights
    largest = np.finfo(np.float32).max
    assert weights.dtype == np.float32
    assert weights.toarray().tolist() == [[largest, largest], [-largest, 2.0]]


def test_build_matrix_sums_repeated_events_and_keeps_untouched_catalogue_items() -> None:
    events = [
        WeightedInteraction("u1", "a", 1.0),
        WeightedInteraction("u1", "a", 3.0),
        WeightedInteraction("u2", "b", -4.0),
    ]
    data = build_matrix(events, item_ids=["z"])
    assert data.items.ids == ["z", "a", "b"]
    assert data.history(data.users["u1"]) == {"a": 4.0}
    assert data.history(data.users["u2"]) == {"b": -4.0}


def test_time_decay_halves_weight_per_half_life() -> None:
    events = [WeightedInteraction("u", "old", 2.0, 0.0), WeightedInteraction("u", "new", 2.0, 10.0)]
    data = build_matrix(events, half_life_seconds=10.0)
    assert data.history(0) == {"old": pytest.approx(1.0), "new": pytest.approx(2.0)}


def test_signal_strength_compresses_and_keeps_the_sign() -> None:
    compressed = signal_strength(np.array([0.0, math.e - 1, -(math.e - 1)]))
    assert compressed.tolist() == pytest.approx([0.0, 1.0, -1.0])


def test_history_vector_ignores_unknown_and_zero_items() -> None:
    idx, val = history_vector({"a": 1.0, "ghost": 5.0, "b": 0.0}, IdMap(["a", "b"]))
    assert idx.tolist() == [0]
    assert val.tolist() == pytest.approx([math.log(2)])


def test_vocabulary_keeps_repeated_tokens_and_encodes_unit_rows() -> None:
    items = [
        ItemFeatures("1", "The Space Race", "Science", ("space",)),
        ItemFeatures("2", "Space Cooking", "Food", ("space",)),
    ]
    assert "t:space" in item_tokens(items[0]) and "w:the" not in item_tokens(items[0])
    vocab = FeatureVocabulary.fit(items)
    assert vocab.tokens == ["t:space", "w:space"]
    encoded = vocab.encode([*items, None]).toarray()
    np.testing.assert_allclose(np.linalg.norm(encoded, axis=1), [1.0, 1.0, 0.0], atol=1e-6)


def test_top_k_excludes_and_breaks_ties_by_index() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.1], np.float32)
    best, values = top_k(scores, 3, np.array([1]))
    assert best.tolist() == [0, 2, 3]
    assert values.tolist() == pytest.approx([0.5, 0.5, 0.1])
    assert top_k(scores, 10, np.array([0, 1, 2, 3]))[0].tolist() == []


def test_recency_boosts_the_latest_items_and_halves_per_half_life() -> None:
    ages = np.array([2.0, 1.0, 0.0], np.float32)
    assert Recency().factors(ages).tolist() == [1.0, 1.0, 1.0]
    boosted = Recency(boost=2.0, half_life=1.0).factors(ages)
    assert boosted.tolist() == pytest.approx([1.5, 2.0, 3.0])


def test_history_vector_reads_the_history_oldest_first() -> None:
    recency = Recency(boost=1.0, half_life=1.0)
    idx, val = history_vector({"b": 1.0, "a": 1.0}, IdMap(["a", "b"]), recency)
    assert idx.tolist() == [1, 0]  # b then a: a is the newest and counts double
    assert val.tolist() == pytest.approx([1.5 * math.log(2), 2 * math.log(2)])
