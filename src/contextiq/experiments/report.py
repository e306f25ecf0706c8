"""An experiment's report: per-arm metrics, lift against the first arm, tests and a verdict.

The verdict refuses to name a winner before every arm has the minimum sample, or when the
users split across the arms unlike their weights (a sample ratio mismatch); otherwise an
arm wins if its CTR differs from the control's at the significance level, split evenly over
the comparisons (Bonferroni). Interleaved experiments are judged on their own: per list, the
arm with more clicked items wins, and a sign test over the decided lists gives the verdict.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

from contextiq.experiments.definitions import Experiment
from contextiq.experiments.metrics import rate_fields
from contextiq.experiments.statistics import ClusteredRate, compare, sample_ratio_p, sign_test
from contextiq.store.experiments import ArmCounts

#: Below this p the users' split over the arms is a sample ratio mismatch: no verdict.
SRM_ALPHA = 0.001


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_impressions: int
    min_interleaved: int
    alpha: float
    #: A/B: each arm's CTR variance is estimated over its users (0 over one user).
    min_users: int


class Judgement(NamedTuple):
    """Per-arm statistics, the winner (or None) and the verdict in words."""

    arms: list[dict[str, Any]]
    winner: str | None
    verdict: str
    #: The sample-ratio-mismatch test's p (None: interleaved, or no users yet).
    srm_p_value: float | None = None


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _signed_pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def _p(p: float) -> str:
    return "p < 0.0001" if p < 0.0001 else f"p = {p:.4f}"


def ab_arms(experiment: Experiment, counts: list[ArmCounts], t: Thresholds) -> Judgement:
    """The judgement of an A/B(/n) experiment."""
    rates = [
        ClusteredRate(c.users, c.impressions, c.clicks, c.sum_n2, c.sum_c2, c.sum_nc)
        for c in counts
    ]
    control = rates[0]
    arms: list[dict[str, Any]] = []
    comparisons = []
    for arm, rate, c in zip(experiment.arms, rates, counts, strict=True):
        low, high = rate.interval()
        entry: dict[str, Any] = {
            "name": arm.name,
            "impressions": c.impressions,
            "clicks": c.clicks,
            "ctr": round(rate.rate, 6),
            "ctr_ci": [round(low, 6), round(high, 6)],
            "lift": None,
            "lift_ci": None,
            "p_value": None,
        }
        if rate is not control:
            result = compare(control, rate)
            comparisons.append((arm.name, rate, result))
            entry["lift"] = None if result.lift is None else round(result.lift, 6)
            entry["lift_ci"] = (
                None if result.lift_ci is None else [round(x, 6) for x in result.lift_ci]
            )
            entry["p_value"] = round(result.p_value, 6)
        arms.append(entry)
    control_name = experiment.arms[0].name
    srm = sample_ratio_p([c.users for c in counts], [a.weight for a in experiment.arms])
    for needed, unit, have in (
        (t.min_impressions, "impressions", [c.impressions for c in counts]),
        (t.min_users, "users", [c.users for c in counts]),
    ):
        if any(n < needed for n in have):
            shown = ", ".join(
                f"{a.name}: {n:,}" for a, n in zip(experiment.arms, have, strict=True)
            )
            return Judgement(
                arms,
                None,
                f"Not enough data yet: each arm needs {needed:,} {unit} before a verdict "
                f"({shown}).",
                srm,
            )
    if srm is not None and srm < SRM_ALPHA:
        return Judgement(arms, None, _mismatch(experiment, counts, srm), srm)
    threshold = t.alpha / max(1, len(comparisons))
    better = [(n, r, c) for n, r, c in comparisons if c.p_value < threshold and c.z > 0]
    worse = [(n, r, c) for n, r, c in comparisons if c.p_value < threshold and c.z < 0]
    if better:
        name, rate, result = max(better, key=lambda x: x[1].rate)
        lift = "" if result.lift is None else f", lift {_signed_pct(result.lift)}"
        ci = (
            ""
            if result.lift_ci is None
            else f" (95% CI {_signed_pct(result.lift_ci[0])} to {_signed_pct(result.lift_ci[1])})"
        )
        return Judgement(
            arms,
            name,
            (
                f"{name} wins: CTR {_pct(rate.rate)} against {_pct(control.rate)} for "
                f"{control_name}{lift}{ci}, {_p(result.p_value)}."
            ),
            srm,
        )
    if comparisons and len(worse) == len(comparisons):
        p = max(c.p_value for _, _, c in worse)
        return Judgement(
            arms,
            control_name,
            (
                f"{control_name} wins: every other arm has a significantly lower CTR "
                f"(largest {_p(p)})."
            ),
            srm,
        )
    p = min((c.p_value for _, _, c in comparisons), default=1.0)
    return Judgement(
        arms,
        None,
        (
            f"No significant difference in CTR (smallest {_p(p)}, threshold {threshold:g}): "
            "no winner; the arms perform alike as far as this sample can tell."
        ),
        srm,
    )


def _mismatch(experiment: Experiment, counts: list[ArmCounts], p: float) -> str:
    total, weights = sum(c.users for c in counts), sum(a.weight for a in experiment.arms)
    split = ", ".join(
        f"{a.name}: {c.users:,} ({c.users / total:.1%}, expected {a.weight / weights:.1%})"
        for a, c in zip(experiment.arms, counts, strict=True)
    )
    return (
        f"Sample ratio mismatch: users split {split}, {_p(p)} (threshold {SRM_ALPHA:g}). "
        "Something other than assignment lost or added users in an arm (errors, timeouts, "
        "bots, caching), so the arms are not comparable: no winner."
    )


def interleaved_arms(experiment: Experiment, counts: list[ArmCounts], t: Thresholds) -> Judgement:
    """Per-team credit of an interleaved experiment, judged by a sign test on wins."""
    (a, ca), (b, cb) = zip(experiment.arms, counts, strict=True)
    p_value = sign_test(ca.wins, cb.wins)
    arms = []
    for arm, c in ((a, ca), (b, cb)):
        fields = rate_fields(c.clicks, c.impressions, "ctr")
        arms.append(
            {
                "name": arm.name,
                "impressions": c.impressions,
                "clicks": c.clicks,
                "ctr": fields["ctr"],
                "ctr_ci": fields["ctr_ci"],
                "lift": None,
                "lift_ci": None,
                "p_value": None,
                "wins": c.wins,
                "ties": c.ties,
            }
        )
    # From the counts: the CTRs shown are rounded to six places.
    control, treatment = (c.clicks / c.impressions if c.impressions else 0.0 for c in (ca, cb))
    if control:
        arms[1]["lift"] = round(treatment / control - 1, 6)
    arms[1]["p_value"] = round(p_value, 6)
    decided = ca.wins + cb.wins
    if decided < t.min_interleaved:
        return Judgement(
            arms,
            None,
            (
                f"Not enough data yet: {decided:,} interleaved lists had a preferred side; "
                f"{t.min_interleaved:,} are needed before a verdict."
            ),
        )
    if p_value < t.alpha:
        winner, loser = (a.name, b.name) if ca.wins > cb.wins else (b.name, a.name)
        won = max(ca.wins, cb.wins)
        return Judgement(
            arms,
            winner,
            (
                f"{winner} wins the interleaving: users clicked more of its items in {won:,} of "
                f"{decided:,} lists with a preference ({won / decided:.1%}) against {loser}, "
                f"{_p(p_value)}."
            ),
        )
    return Judgement(
        arms,
        None,
        (
            f"No significant preference: {a.name} won {ca.wins:,} lists, {b.name} {cb.wins:,} "
            f"({_p(p_value)}, threshold {t.alpha:g}); no winner."
        ),
    )
