from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.evaluate import evaluate_ranking, histories_by_user


class FixedScores:
    """Scores items a > b > c > d for everyone."""

    item_ids = ("a", "b", "c", "d")

    def score_users(
        self, users: Sequence[str], histories: Sequence[Mapping[str, float]]
    ) -> npt.NDArray[np.float32]:
        return np.tile(np.array([4, 3, 2, 1], np.float32), (len(users), 1))


def test_train_items_are_excluded_and_never_relevant() -> None:
    train = [WeightedInteraction("u", "a", 1.0)]
    test = [WeightedInteraction("u", "a", 1.0), WeightedInteraction("u", "c", 1.0)]
    metrics = evaluate_ranking(FixedScores(), train, test, k=2)
    # Ranking without 'a' is b, c, d; only 'c' is relevant and sits at rank 2.
    assert metrics["precision@2"] == pytest.approx(0.5)
    assert metrics["recall@2"] == pytest.approx(1.0)
    assert metrics["ndcg@2"] == pytest.approx(1 / np.log2(3))
    assert metrics["auc"] == pytest.approx(0.5)  # c beats d, loses to b


def test_negative_test_events_are_not_relevant() -> None:
    train = [WeightedInteraction("u", "a", 1.0)]
    test = [WeightedInteraction("u", "b", -1.0), WeightedInteraction("v", "b", 1.0)]
    metrics = evaluate_ranking(FixedScores(), train, test, k=1)
    assert metrics["hr@1"] == pytest.approx(0.0)  # only v counts; its top-1 is a, not b


def test_histories_are_oldest_first_by_each_items_latest_event() -> None:
    events = [
        WeightedInteraction("u", "b", 1.0, 20.0),
        WeightedInteraction("u", "a", 1.0, 10.0),
        WeightedInteraction("u", "c", 1.0, 30.0),
        WeightedInteraction("u", "a", 2.0, 40.0),
    ]
    history = histories_by_user(events)["u"]
    assert list(history.items()) == [("b", 1.0), ("c", 1.0), ("a", 3.0)]


def test_histories_without_timestamps_keep_the_given_order() -> None:
    events = [WeightedInteraction("u", "b", 1.0), WeightedInteraction("u", "a", 1.0, 5.0)]
    assert list(histories_by_user(events)["u"]) == ["b", "a"]
