"""Assignment, statistics, interleaving and verdicts against values worked out by hand."""

import math
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from contextiq.experiments.assignment import assign, bucket
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.experiments.interleaving import outcome, team_draft
from contextiq.experiments.report import Thresholds, ab_arms, interleaved_arms
from contextiq.experiments.statistics import (
    ClusteredRate,
    compare,
    sample_ratio_p,
    sign_test,
    wilson,
)
from contextiq.store.experiments import ArmCounts

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def one_list_each(users: int, clicks: int) -> ClusteredRate:
    """Every user saw one list: n = 1 per user, c in {0, 1}."""
    return ClusteredRate(users, users, clicks, users, clicks, clicks)


def test_bucket_is_the_first_8_bytes_of_sha256() -> None:
    # printf 'exp:user1' | sha256sum -> 890c30652f015dc8...; 0x890c30652f015dc8 / 2^64
    assert bucket("exp", "user1") == pytest.approx(0x890C30652F015DC8 / 2**64)
    assert bucket("exp", "user1") == pytest.approx(0.5353422400503454)


def test_assignment_follows_the_weights_in_arm_order() -> None:
    # Bucket 0.5353 of a total weight 4: 2.14 lies in the second arm's share [1, 3).
    assert assign("exp", "user1", [("a", 1), ("b", 2), ("c", 1)]) == "b"
    assert assign("exp", "user1", [("a", 3), ("b", 1)]) == "a"  # 2.14 < 3
    assert assign("exp", "user1", [("a", 1), ("b", 3)]) == "b"  # 0.535 >= 0.25


def test_assignment_is_stable_and_splits_by_weight() -> None:
    arms = [("control", 1.0), ("treatment", 3.0)]
    first = {u: assign("split", f"u{u}", arms) for u in range(20_000)}
    assert first == {u: assign("split", f"u{u}", arms) for u in range(20_000)}
    share = Counter(first.values())["treatment"] / 20_000
    assert share == pytest.approx(0.75, abs=0.01)
    # Another experiment reshuffles users independently of this one.
    other = {u: assign("other", f"u{u}", arms) for u in range(20_000)}
    agree = sum(first[u] == other[u] for u in first) / 20_000
    assert agree == pytest.approx(0.75**2 + 0.25**2, abs=0.015)


def test_assignment_rejects_arms_without_weight() -> None:
    with pytest.raises(ValueError):
        assign("exp", "u", [("a", 0.0)])


def test_wilson_interval_of_10_in_100() -> None:
    low, high = wilson(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4)
    assert high == pytest.approx(0.1744, abs=1e-4)
    assert wilson(0, 0) == (0.0, 0.0)


def test_two_proportion_test_when_each_user_sees_one_list() -> None:
    # 100/1000 vs 130/1000: var = .1*.9/1000 + .13*.87/1000 = 2.031e-4, z = .03 / .014251.
    result = compare(one_list_each(1000, 100), one_list_each(1000, 130))
    assert result.z == pytest.approx(2.1051, abs=1e-3)
    assert result.p_value == pytest.approx(0.03528, abs=1e-4)
    assert result.lift == pytest.approx(0.3)
    # log(1.3) +- 1.96 * sqrt(9e-5/.01 + 1.131e-4/.0169) = 0.262364 +- 1.96 * 0.125269
    assert result.lift_ci is not None
    assert result.lift_ci[0] == pytest.approx(0.01698, abs=1e-4)
    assert result.lift_ci[1] == pytest.approx(0.66178, abs=1e-4)


def test_clustered_variance_counts_a_user_once() -> None:
    # Two users with two lists each: one clicked both, one neither. R = 0.5; per-user
    # variance of c is 1, of n 0, covariance 0: Var = 1 / (2 * 2^2) = 0.125, twice the
    # 0.0625 that four independent lists would give.
    rate = ClusteredRate(users=2, impressions=4, clicks=2, sum_n2=8, sum_c2=4, sum_nc=4)
    assert rate.rate == 0.5
    assert rate.variance == pytest.approx(0.125)
    assert one_list_each(4, 2).variance == pytest.approx(0.0625)


def test_an_arm_without_clicks_has_an_interval_wider_than_a_point() -> None:
    """The delta-method variance is 0 when no one clicked (or everyone did, or there is one
    user); the arm's interval is then Wilson's, as the daily rates' are."""
    for rate in (
        one_list_each(15, 0),
        one_list_each(15, 15),
        ClusteredRate(1, 40, 4, 1600, 16, 160),
    ):
        assert rate.variance == 0
        assert rate.interval() == wilson(rate.clicks, rate.impressions)
        low, high = rate.interval()
        assert low < high
    assert one_list_each(15, 0).interval() == pytest.approx((0.0, 0.203883), abs=1e-6)
    assert ClusteredRate(0, 0, 0, 0, 0, 0).interval() == (0.0, 0.0)


def test_sign_test_exact_and_approximate() -> None:
    # 8 wins against 2: P(X <= 2) = (1 + 10 + 45) / 1024, two-sided doubles it.
    assert sign_test(8, 2) == pytest.approx(2 * 56 / 1024)
    assert sign_test(5, 5) == 1.0
    assert sign_test(0, 0) == 1.0
    # 1,100 against 900: |diff| - 1 = 199, z = 199 / sqrt(2000) = 4.4497.
    assert sign_test(1_100, 900) == pytest.approx(math.erfc(4.4497 / math.sqrt(2)), rel=1e-3)


def test_team_draft_alternates_and_keeps_each_teams_order() -> None:
    first, second = ["a", "b", "c", "d", "e"], ["b", "f", "a", "g", "h"]
    for seed in range(20):
        drafted = team_draft(first, second, 6, ("A", "B"), seed=str(seed))
        items = [i for i, _ in drafted]
        assert len(items) == len(set(items)) == 6
        counts = Counter()
        for n, (_, team) in enumerate(drafted, start=1):
            counts[team] += 1
            if n % 2 == 0:
                assert counts["A"] == counts["B"]  # each round gives one pick to each team
        for team, ranking in (("A", first), ("B", second)):
            mine = [i for i, t in drafted if t == team]
            positions = [ranking.index(i) for i in mine]
            assert positions == sorted(positions)
    # With identical lists both teams take turns on the same ranking.
    same = team_draft(first, first, 5, ("A", "B"), seed="x")
    assert [i for i, _ in same] == first


def test_team_draft_fills_from_the_longer_list() -> None:
    drafted = team_draft(["a"], ["b", "c", "d"], 4, ("A", "B"), seed="s")
    assert sorted(i for i, _ in drafted) == ["a", "b", "c", "d"]
    assert [t for i, t in drafted if i == "a"] == ["A"]


def test_interleaving_outcome() -> None:
    assert outcome([]) is None
    assert outcome(["A"]) == "A"
    assert outcome(["A", "B"]) == "tie"
    assert outcome(["A", "B", "B"]) == "B"


def experiment(interleaving: bool = False) -> Experiment:
    arms = (Arm("control", 1.0, ArmConfig()), Arm("treatment", 1.0, ArmConfig(ml_weight=0.3)))
    return Experiment("e", arms, interleaving, NOW, None, NOW)


def counts(arm: str, users: int, clicks: int, wins: int = 0) -> ArmCounts:
    return ArmCounts(arm, users, users, clicks, users, clicks, clicks, wins, 0)


THRESHOLDS = Thresholds(min_impressions=1_000, min_interleaved=100, alpha=0.01, min_users=30)


def test_no_verdict_before_the_minimum_sample() -> None:
    arms, winner, verdict, _ = ab_arms(
        experiment(), [counts("control", 999, 10), counts("treatment", 999, 500)], THRESHOLDS
    )
    assert winner is None
    assert verdict.startswith("Not enough data yet")
    assert arms[1]["p_value"] is not None and arms[1]["p_value"] < 0.0001


def test_no_verdict_on_a_handful_of_users_however_many_impressions() -> None:
    """One heavy user an arm (a test script, a bot): the variance over users is 0, so any
    difference has p = 0; the verdict waits for users instead of naming a winner."""
    heavy = [
        ArmCounts(arm, 1, 2_000, c, 2_000.0**2, float(c * c), 2_000.0 * c, 0, 0)
        for arm, c in (("control", 100), ("treatment", 150))
    ]
    arms, winner, verdict, _ = ab_arms(experiment(), heavy, THRESHOLDS)
    assert arms[1]["p_value"] == 0.0
    assert winner is None
    assert verdict == (
        "Not enough data yet: each arm needs 30 users before a verdict (control: 1, treatment: 1)."
    )


def test_significant_lift_names_the_winner() -> None:
    arms, winner, verdict, _ = ab_arms(
        experiment(), [counts("control", 5_000, 500), counts("treatment", 5_000, 650)], THRESHOLDS
    )
    assert winner == "treatment"
    assert verdict.startswith("treatment wins")
    assert arms[0]["lift"] is None and arms[1]["lift"] == pytest.approx(0.3)
    assert arms[1]["lift_ci"][0] > 0


def test_control_wins_when_every_other_arm_is_worse() -> None:
    _, winner, _, _ = ab_arms(
        experiment(), [counts("control", 5_000, 650), counts("treatment", 5_000, 500)], THRESHOLDS
    )
    assert winner == "control"


def test_a_difference_below_the_threshold_names_no_winner() -> None:
    # 100/1000 against 130/1000 has p = 0.035: significant at 0.05, not at 0.01.
    _, winner, verdict, _ = ab_arms(
        experiment(), [counts("control", 1_000, 100), counts("treatment", 1_000, 130)], THRESHOLDS
    )
    assert winner is None
    assert verdict.startswith("No significant difference")


def test_sample_ratio_test_is_chi_square_on_users_against_weights() -> None:
    # 1,100 against 900 at 1:1: chi2 = 2 * 100^2 / 1000 = 20 on 1 df, p = erfc(sqrt(10)).
    assert sample_ratio_p([1_100, 900], [1, 1]) == pytest.approx(math.erfc(math.sqrt(10)))
    # 300:700 at 1:3 expects 250:750: chi2 = 10 + 10/3; 2 df: p = exp(-chi2 / 2).
    assert sample_ratio_p([300, 700], [1, 3]) == pytest.approx(0.000260729, rel=1e-5)
    assert sample_ratio_p([10, 20, 30], [1, 1, 1]) == pytest.approx(math.exp(-5))
    assert sample_ratio_p([0, 0], [1, 1]) is None


def test_a_sample_ratio_mismatch_names_no_winner() -> None:
    """Users lost in one arm (its answers failed, say) bias the comparison: the verdict says
    so instead of naming the arm whose remaining users click more."""
    judged = ab_arms(
        experiment(), [counts("control", 5_000, 500), counts("treatment", 4_500, 650)], THRESHOLDS
    )
    assert judged.srm_p_value is not None and judged.srm_p_value < 1e-6
    assert judged.winner is None
    assert judged.verdict.startswith("Sample ratio mismatch")
    assert "treatment: 4,500 (47.4%, expected 50.0%)" in judged.verdict
    balanced = ab_arms(
        experiment(), [counts("control", 5_000, 500), counts("treatment", 4_950, 650)], THRESHOLDS
    )
    assert balanced.srm_p_value is not None and balanced.srm_p_value > 0.5
    assert balanced.winner == "treatment"


def test_interleaving_verdict_from_wins() -> None:
    e = experiment(interleaving=True)
    few = [counts("control", 500, 40, wins=40), counts("treatment", 500, 50, wins=50)]
    assert interleaved_arms(e, few, THRESHOLDS)[1] is None
    many = [counts("control", 2_000, 300, wins=150), counts("treatment", 2_000, 500, wins=400)]
    arms, winner, verdict, _ = interleaved_arms(e, many, THRESHOLDS)
    assert winner == "treatment"
    assert "interleaving" in verdict
    assert arms[1]["p_value"] < 0.0001


def test_a_over_a_rarely_declares_a_winner() -> None:
    """Identical arms at alpha 0.01: about 1 % of experiments name a winner, not more."""
    rng = random.Random(3)
    winners = 0
    for _ in range(400):
        clicks = [sum(rng.random() < 0.1 for _ in range(2_000)) for _ in range(2)]
        _, winner, _, _ = ab_arms(
            experiment(),
            [counts("control", 2_000, clicks[0]), counts("treatment", 2_000, clicks[1])],
            THRESHOLDS,
        )
        winners += winner is not None
    assert winners <= 12  # expected 4; 12 is far in the tail of Binomial(400, 0.01)


def test_a_treatment_without_clicks_shows_its_lift_of_minus_100_percent() -> None:
    """No click in the treatment is the largest drop there is, not an unknown lift; only the
    interval, taken on the log of the ratio, has no value."""
    result = compare(one_list_each(1_000, 100), one_list_each(1_000, 0))
    assert result.lift == -1.0
    assert result.lift_ci is None
    assert result.p_value < 1e-20
    assert compare(one_list_each(1_000, 0), one_list_each(1_000, 10)).lift is None


def test_an_interleaved_lift_is_worked_out_from_the_rates_not_their_rounding() -> None:
    """1 click in 3 against 2 in 3 is a lift of exactly +100 %, not of the rounded CTRs'
    0.666667 / 0.333333 - 1 = +100.0003 %."""
    e = experiment(interleaving=True)
    arms, _, _, _ = interleaved_arms(
        e, [counts("control", 3, 1, wins=1), counts("treatment", 3, 2, wins=2)], THRESHOLDS
    )
    assert arms[1]["lift"] == 1.0
