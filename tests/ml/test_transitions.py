"""Item transitions: what sits next to what in users' timed histories."""

import math
from pathlib import Path

import numpy as np
import pytest

from contextiq.ml.data import IdMap, history_matrix, history_vector
from contextiq.ml.transitions import ItemTransitions, TransitionConfig

HISTORIES = [{"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 1.0, "c": 1.0}]


def fitted(config: TransitionConfig) -> tuple[IdMap, ItemTransitions]:
    items = IdMap(["a", "b", "c", "d"])
    return items, ItemTransitions(items, config).fit(HISTORIES)


def scores(model: ItemTransitions, items: IdMap, history: dict[str, float]) -> list[float]:
    """Scores per unit of signal strength (a weight of 1 counts log 2)."""
    return (model.score_indices(*history_vector(history, items)) / math.log(2)).tolist()


def test_nearer_steps_count_more_and_each_item_row_sums_to_one() -> None:
    items, model = fitted(TransitionConfig(window=2, step_decay=0.5, backward=0.0))
    # From a: b one step on (1), c two steps on (0.5) and one step on in the 2nd history (1).
    assert scores(model, items, {"a": 1.0}) == pytest.approx([0.0, 1 / 2.5, 1.5 / 2.5, 0.0])


def test_earlier_items_count_as_much_as_backward_says() -> None:
    items, model = fitted(TransitionConfig(window=1, backward=0.5))
    # c came after b once and after a once: half a count each, so half the row each.
    assert scores(model, items, {"c": 1.0}) == pytest.approx([0.5, 0.5, 0.0, 0.0])


def test_dislikes_unknown_ids_and_items_added_later_add_nothing() -> None:
    items, model = fitted(TransitionConfig())
    liked = scores(model, items, {"a": 1.0})
    items.extend(["e"])  # the blend's id map grows when content is added
    mixed = scores(model, items, {"ghost": 1.0, "b": -1.0, "a": 1.0, "e": 1.0})
    assert mixed == pytest.approx([*liked, 0.0])


def test_many_histories_score_like_one_at_a_time() -> None:
    items, model = fitted(TransitionConfig())
    histories = [{"a": 1.0, "b": 3.0}, {"c": 1.0}, {}]
    one_by_one = [model.score_indices(*history_vector(h, items)) for h in histories]
    together = model.score_matrix(history_matrix(histories, items))
    np.testing.assert_allclose(together, np.vstack(one_by_one), rtol=1e-6)


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    items, model = fitted(TransitionConfig(window=3, backward=0.25))
    model.save(tmp_path / "transitions")
    loaded = ItemTransitions.load(tmp_path / "transitions", items)
    assert loaded.config == model.config
    assert scores(loaded, items, {"b": 1.0}) == scores(model, items, {"b": 1.0})


def test_each_row_keeps_only_its_strongest_entries() -> None:
    items, full = fitted(TransitionConfig(window=2, step_decay=0.5, backward=0.0))
    _, cut = fitted(
        TransitionConfig(window=2, step_decay=0.5, backward=0.0, max_per_row=1, capped_from=0)
    )
    # From a: c (1.5 / 2.5) beats b (1 / 2.5); the kept entry keeps its weight.
    assert scores(cut, items, {"a": 1.0}) == pytest.approx([0.0, 0.0, 1.5 / 2.5, 0.0])
    assert scores(cut, items, {"b": 1.0}) == scores(full, items, {"b": 1.0})


def test_small_data_keeps_every_entry() -> None:
    """Below `capped_from` events T is whole: the cap is for catalogue-scale rows."""
    items, full = fitted(TransitionConfig(window=2, step_decay=0.5, backward=0.0))
    _, uncut = fitted(TransitionConfig(window=2, step_decay=0.5, backward=0.0, max_per_row=1))
    assert scores(uncut, items, {"a": 1.0}) == scores(full, items, {"a": 1.0})
