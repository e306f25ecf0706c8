"""Robust mix selection on hand-made per-user gains: a mix must beat the best single part
by more than the noise of the validation users to be chosen over it."""

import numpy as np

from contextiq.ml.blend_choice import ChoiceConfig, Judged, Mix, gain_bound, pick

NAMES = ("ease", "embedding")
USERS = 400


#: The robust choice (the default margin is 0, the best mean).
ROBUST = ChoiceConfig(margin=1.0)


def judged(share: float, latest: np.ndarray, shuffled: np.ndarray | None = None) -> Judged:
    random_part = np.full(USERS, 0.3) if shuffled is None else shuffled
    return Judged(Mix({"embedding": share}), random_part, latest)


def noisy(mean: float, seed: int, spread: float = 0.3) -> np.ndarray:
    return mean + np.random.default_rng(seed).normal(0.0, spread, USERS)


def test_the_bound_is_the_mean_gain_less_its_standard_errors() -> None:
    reference = np.zeros(4)
    gains = np.array([0.1, 0.3, 0.1, 0.3])
    error = gains.std(ddof=1) / 2
    assert gain_bound(gains, reference, 1.0) == 0.2 - error
    assert gain_bound(gains, reference, 0.0) == 0.2
    assert gain_bound(reference, reference, 1.0) == 0.0


def test_a_mix_ahead_only_by_noise_loses_to_the_best_single_part() -> None:
    ease = noisy(0.10, seed=0)
    mix = ease + np.random.default_rng(1).normal(0.004, 0.3, USERS)  # +0.004, SE about 0.015
    chosen = pick([judged(0.0, ease), judged(0.5, mix), judged(1.0, ease - 0.02)], NAMES, ROBUST)
    assert chosen == Mix({"embedding": 0.0})


def test_a_mix_ahead_by_more_than_the_noise_is_chosen() -> None:
    ease = noisy(0.10, seed=0)
    mix = ease + np.random.default_rng(1).normal(0.03, 0.05, USERS)
    chosen = pick([judged(0.0, ease), judged(0.5, mix), judged(1.0, ease - 0.02)], NAMES, ROBUST)
    assert chosen == Mix({"embedding": 0.5})


def test_the_reference_is_the_best_single_part_whichever_it_is() -> None:
    embedding = noisy(0.12, seed=2)
    ease = embedding - 0.03
    mix = embedding + np.random.default_rng(5).normal(0.001, 0.3, USERS)  # a hair, noisy
    chosen = pick([judged(0.0, ease), judged(0.5, mix), judged(1.0, embedding)], NAMES, ROBUST)
    assert chosen == Mix({"embedding": 1.0})


def test_of_two_mixes_the_steadier_gain_wins() -> None:
    ease = noisy(0.10, seed=0)
    steady = ease + 0.02
    erratic = ease + np.random.default_rng(3).normal(0.025, 0.4, USERS)
    candidates = [judged(0.0, ease), judged(0.35, erratic), judged(0.5, steady)]
    assert pick(candidates, NAMES, ROBUST) == Mix({"embedding": 0.5})


def test_without_latest_events_the_random_part_decides() -> None:
    empty = np.zeros(0)
    ease = noisy(0.10, seed=4)
    candidates = [
        Judged(Mix({"embedding": 0.0}), ease, empty),
        Judged(Mix({"embedding": 0.5}), ease + 0.002, empty),
        Judged(Mix({"embedding": 0.8}), ease + 0.05, empty),
    ]
    assert pick(candidates, NAMES, ROBUST) == Mix({"embedding": 0.8})


def test_mixes_that_forget_the_random_part_are_not_eligible() -> None:
    ease = noisy(0.10, seed=0)
    forgetful = Judged(Mix({"embedding": 0.5}), np.full(USERS, 0.2), ease + 0.05)
    candidates = [judged(0.0, ease), forgetful]
    assert pick(candidates, NAMES, ChoiceConfig(random_tolerance=0.01, margin=1.0)) == Mix(
        {"embedding": 0.0}
    )
    assert pick(candidates, NAMES, ChoiceConfig(random_tolerance=0.5, margin=1.0)) == Mix(
        {"embedding": 0.5}
    )


def test_the_reference_is_eligible_even_when_no_single_part_is() -> None:
    ease = noisy(0.10, seed=0)
    mix = Judged(Mix({"embedding": 0.5}), np.full(USERS, 0.3), ease)
    richer = Judged(
        Mix({"embedding": 0.5, "sequence": 0.2}), np.full(USERS, 0.3), ease + noisy(0.001, seed=6)
    )
    lone = Judged(Mix({"embedding": 1.0}), np.full(USERS, 0.1), ease + 0.05)  # forgets the rest
    names = ("ease", "embedding", "sequence")
    assert pick([mix, richer, lone], names, ROBUST) == mix.mix
