"""Online metrics of one group from its aggregate counts: rates with intervals, MRR, coverage."""

from typing import Any

from contextiq.experiments.statistics import wilson
from contextiq.store.experiments import GroupCounts

#: Each rate: its name in answers and the aggregate column it divides by impressions.
RATES = (
    ("ctr", "clicks"),
    ("like_rate", "likes"),
    ("save_rate", "saves"),
    ("share_rate", "shares"),
    ("dislike_rate", "dislikes"),
)


def _round(value: float) -> float:
    return round(value, 6)


def rate_fields(successes: int, impressions: int, name: str) -> dict[str, Any]:
    low, high = wilson(successes, impressions)
    return {
        name: _round(successes / impressions) if impressions else 0.0,
        f"{name}_ci": [_round(low), _round(high)],
    }


def online_metrics(group: GroupCounts, catalogue_size: int) -> dict[str, Any]:
    """Counts, each rate with its 95 % Wilson interval, MRR of the first click, coverage."""
    n = group.counts["impressions"]
    out: dict[str, Any] = {
        "impressions": n,
        "users": group.users,
        "items_shown": group.counts["items_shown"],
        **{c: group.counts[c] for _, c in RATES},
    }
    for name, column in RATES:
        out |= rate_fields(group.counts[column], n, name)
    out["mrr"] = _round(group.reciprocal_ranks / n) if n else 0.0
    out["items_covered"] = group.items
    out["coverage"] = _round(min(1.0, group.items / catalogue_size)) if catalogue_size else 0.0
    return out
