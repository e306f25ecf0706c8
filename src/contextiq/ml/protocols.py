"""Evaluation splits, exactly as the benchmark protocols define them."""

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from contextiq.ml.base import WeightedInteraction

Split = tuple[list[WeightedInteraction], list[WeightedInteraction]]


def _by_user(interactions: Sequence[WeightedInteraction]) -> dict[str, list[WeightedInteraction]]:
    groups: dict[str, list[WeightedInteraction]] = defaultdict(list)
    for i in interactions:
        groups[i.user_id].append(i)
    return groups


def time_order(events: Sequence[WeightedInteraction], rng: np.random.Generator) -> list[int]:
    """Indices of `events` oldest first, events of the same timestamp in seeded random order.

    Ordering ties by id or input position would let a sequential model learn the tie-break
    (44 % of ML-100K's last events share their second with the event before).
    """
    tie_break = rng.random(len(events))
    return sorted(range(len(events)), key=lambda j: (events[j].timestamp or 0.0, tie_break[j]))


def stratified_split(
    interactions: Sequence[WeightedInteraction], test_fraction: float = 0.25, seed: int = 0
) -> Split:
    """Per user, a seeded random `test_fraction` of their events goes to test (one stays)."""
    rng = np.random.default_rng(seed)
    train: list[WeightedInteraction] = []
    test: list[WeightedInteraction] = []
    for user in sorted(groups := _by_user(interactions)):
        events = groups[user]
        n_test = min(round(len(events) * test_fraction), len(events) - 1)
        chosen = set(rng.choice(len(events), n_test, replace=False).tolist()) if n_test else set()
        for j, event in enumerate(events):
            (test if j in chosen else train).append(event)
    return train, test


def latest_per_user_split(
    interactions: Sequence[WeightedInteraction], test_fraction: float = 0.2, seed: int = 0
) -> Split:
    """Per user, the newest `test_fraction` of events go to test (seeded random when untimed).

    Used to compare a candidate with the serving model: the newest events are the ones the
    serving model is least likely to have been trained on.
    """
    rng = np.random.default_rng(seed)
    train: list[WeightedInteraction] = []
    test: list[WeightedInteraction] = []
    for user in sorted(groups := _by_user(interactions)):
        events = groups[user]
        n_test = min(round(len(events) * test_fraction), len(events) - 1)
        if all(e.timestamp is not None for e in events):
            order = time_order(events, rng)
        else:
            order = rng.permutation(len(events)).tolist()
        chosen = set(order[len(events) - n_test :]) if n_test > 0 else set()
        for j, event in enumerate(events):
            (test if j in chosen else train).append(event)
    return train, test


def leave_last_out(interactions: Sequence[WeightedInteraction], seed: int = 0) -> Split:
    """Per user, the latest event is held out; without timestamps, a seeded random one.

    Events sharing the latest timestamp are ordered at random (seeded), see `time_order`.
    """
    rng = np.random.default_rng(seed)
    train: list[WeightedInteraction] = []
    test: list[WeightedInteraction] = []
    for user in sorted(groups := _by_user(interactions)):
        events = groups[user]
        if len(events) < 2:
            train.extend(events)
            continue
        if all(e.timestamp is not None for e in events):
            last = time_order(events, rng)[-1]
        else:
            last = int(rng.integers(len(events)))
        test.append(events[last])
        train.extend(e for j, e in enumerate(events) if j != last)
    return train, test


def random_split(
    interactions: Sequence[WeightedInteraction], test_fraction: float = 0.2, seed: int = 0
) -> Split:
    """A seeded random split of all events (the rating protocol)."""
    rng = np.random.default_rng(seed)
    mask = rng.random(len(interactions)) < test_fraction
    train = [e for e, m in zip(interactions, mask, strict=True) if not m]
    test = [e for e, m in zip(interactions, mask, strict=True) if m]
    return train, test


def cold_item_split(
    interactions: Sequence[WeightedInteraction], item_fraction: float = 0.1, seed: int = 0
) -> tuple[list[WeightedInteraction], list[WeightedInteraction], set[str]]:
    """Hold out a seeded random `item_fraction` of items entirely; returns train, test, cold ids."""
    rng = np.random.default_rng(seed)
    items = sorted({e.item_id for e in interactions})
    cold = set(rng.choice(items, round(len(items) * item_fraction), replace=False).tolist())
    train = [e for e in interactions if e.item_id not in cold]
    test = [e for e in interactions if e.item_id in cold]
    return train, test, cold
