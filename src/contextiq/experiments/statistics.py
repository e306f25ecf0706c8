"""The statistics of the online metrics and of experiment verdicts, in closed form.

Rates per group use Wilson intervals on impressions. Experiment arms compare CTR with the
user as the unit: a user who sees many lists contributes correlated impressions, so the
variance of clicks/impressions comes from per-user sums by the delta method. When every user
sees one list it equals the textbook (unpooled) two-proportion z-test.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import chdtrc

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 0) without trials."""
    if n <= 0:
        return 0.0, 0.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def sample_ratio_p(users: Sequence[int], weights: Sequence[float]) -> float | None:
    """P of a chi-square goodness-of-fit test of users per arm against the arms' weights
    (None without users). A small p is a sample ratio mismatch: something other than
    assignment added or lost users in some arm, and their rates are not comparable."""
    total, share = sum(users), sum(weights)
    if total <= 0:
        return None
    expected = [total * w / share for w in weights]
    statistic = sum((o - e) ** 2 / e for o, e in zip(users, expected, strict=True))
    return float(chdtrc(len(users) - 1, statistic))


@dataclass(frozen=True, slots=True)
class ClusteredRate:
    """clicks / impressions of one arm, with the per-user sums its variance needs."""

    users: int
    impressions: int
    clicks: int
    sum_n2: float
    sum_c2: float
    sum_nc: float

    @property
    def rate(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def variance(self) -> float:
        """Delta-method variance of the ratio estimate, moments over users (divided by N)."""
        n_users = self.users
        if n_users <= 0 or self.impressions <= 0:
            return 0.0
        r = self.rate
        mean_n = self.impressions / n_users
        mean_c = self.clicks / n_users
        var_n = self.sum_n2 / n_users - mean_n**2
        var_c = self.sum_c2 / n_users - mean_c**2
        cov = self.sum_nc / n_users - mean_n * mean_c
        return max(0.0, (var_c - 2 * r * cov + r * r * var_n) / (n_users * mean_n**2))

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """The delta-method interval; Wilson's on impressions where that variance is 0 (no
        click yet, every impression clicked, one user), which says nothing about the
        uncertainty: 0 clicks in 15 impressions is not a CTR of exactly 0."""
        if self.variance <= 0:
            return wilson(self.clicks, self.impressions, z)
        half = z * math.sqrt(self.variance)
        return max(0.0, self.rate - half), min(1.0, self.rate + half)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A treatment against the control: relative lift with its interval, and the test's p."""

    lift: float | None
    lift_ci: tuple[float, float] | None
    z: float
    p_value: float


def compare(control: ClusteredRate, treatment: ClusteredRate, z: float = Z95) -> Comparison:
    """Two-sample z-test on the rates; the lift's interval from the log of their ratio."""
    variance = control.variance + treatment.variance
    difference = treatment.rate - control.rate
    if variance <= 0:
        statistic = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    else:
        statistic = difference / math.sqrt(variance)
    p_value = two_sided_p(statistic) if math.isfinite(statistic) else 0.0
    if control.rate <= 0:
        return Comparison(None, None, statistic, p_value)
    ratio = treatment.rate / control.rate
    if treatment.rate <= 0:  # -100 %; the interval, on the log of the ratio, has none
        return Comparison(ratio - 1, None, statistic, p_value)
    se_log = math.sqrt(control.variance / control.rate**2 + treatment.variance / treatment.rate**2)
    low, high = math.log(ratio) - z * se_log, math.log(ratio) + z * se_log
    return Comparison(ratio - 1, (math.exp(low) - 1, math.exp(high) - 1), statistic, p_value)


def sign_test(wins_a: int, wins_b: int) -> float:
    """Two-sided p of a fair coin giving this split (ties left out): exact up to 1,000 trials."""
    n, k = wins_a + wins_b, min(wins_a, wins_b)
    if n == 0:
        return 1.0
    if n > 1_000:
        z = (abs(wins_a - wins_b) - 1) / math.sqrt(n)  # normal approximation, continuity-corrected
        return min(1.0, two_sided_p(max(0.0, z)))
    tail = float(sum(math.comb(n, i) for i in range(k + 1))) / 2.0**n
    return min(1.0, 2 * tail)
