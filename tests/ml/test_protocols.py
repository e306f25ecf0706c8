from collections import Counter

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.protocols import (
    cold_item_split,
    latest_per_user_split,
    leave_last_out,
    random_split,
    stratified_split,
)


def events(users: int = 5, per_user: int = 8) -> list[WeightedInteraction]:
    return [
        WeightedInteraction(f"u{u}", f"i{(u + j) % 20}", 1.0, float(j))
        for u in range(users)
        for j in range(per_user)
    ]


def test_stratified_holds_out_a_quarter_of_every_user_and_is_seeded() -> None:
    train, test = stratified_split(events(), 0.25, seed=1)
    assert Counter(e.user_id for e in test) == {f"u{u}": 2 for u in range(5)}
    assert len(train) == 30
    assert stratified_split(events(), 0.25, seed=1) == (train, test)
    assert stratified_split(events(), 0.25, seed=2) != (train, test)


def test_leave_last_out_holds_out_the_latest_event() -> None:
    train, test = leave_last_out(events())
    assert all(e.timestamp == 7.0 for e in test)
    assert len(test) == 5 and len(train) == 35


def test_leave_last_out_without_timestamps_holds_out_one_random_event() -> None:
    untimed = [WeightedInteraction(e.user_id, e.item_id, e.weight) for e in events()]
    _, test = leave_last_out(untimed, seed=0)
    assert sorted(e.user_id for e in test) == [f"u{u}" for u in range(5)]


def test_random_split_is_seeded_and_complete() -> None:
    train, test = random_split(events(), 0.2, seed=0)
    assert len(train) + len(test) == 40
    assert random_split(events(), 0.2, seed=0) == (train, test)


def test_cold_item_split_removes_items_entirely() -> None:
    train, test, cold = cold_item_split(events(), 0.25, seed=0)
    assert len(cold) == 3  # a quarter of the 12 items
    assert not cold & {e.item_id for e in train}
    assert {e.item_id for e in test} <= cold


def test_latest_per_user_split_holds_out_the_newest_events() -> None:
    train, test = latest_per_user_split(events(), 0.25)
    assert {e.timestamp for e in test} == {6.0, 7.0}
    assert max(e.timestamp or 0.0 for e in train) == 5.0


def test_same_second_ties_are_held_out_at_random_not_by_input_order() -> None:
    tied = [
        WeightedInteraction(f"u{u}", f"i{j}", 1.0, 0.0 if j == 0 else 5.0)
        for u in range(200)
        for j in range(4)
    ]
    _, test = leave_last_out(tied, seed=3)
    held = Counter(e.item_id for e in test)
    assert set(held) == {"i1", "i2", "i3"}  # never the older event, any of the tied ones
    assert min(held.values()) > 40  # about a third each, not always the first or last in input
    assert leave_last_out(tied, seed=3)[1] == test
    assert leave_last_out(tied, seed=4)[1] != test


def test_latest_per_user_split_orders_ties_at_random() -> None:
    tied = [WeightedInteraction(f"u{u}", f"i{j}", 1.0, 1.0) for u in range(100) for j in range(5)]
    _, test = latest_per_user_split(tied, 0.2, seed=0)
    assert len(set(e.item_id for e in test)) == 5
