"""Decayed popularity kept as a sum that only ever grows by addition.

An event of weight w at time t adds `w * 2^((t - POPULARITY_EPOCH) / half-life)` to its
item's score: ordering by that sum equals ordering by popularity decayed to now, and updates
from many writers are pure additions (safe under concurrency, no rewrite as time passes).
The exponent is held within ±`EXPONENT_BOUND`: beyond it float64 underflows to 0 (PostgreSQL
raises) or overflows. With the 14-day half-life that spans 1987 to 2060: older events count
as if they were from 1987 (among themselves, by weight; any later event outweighs them), and
the epoch must move, with every stored score rescaled, before 2060.
"""

from datetime import UTC, datetime

POPULARITY_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
#: 2^960 is about 1e289: a sum of 10^19 events at the bound still fits in a float64.
EXPONENT_BOUND = 960.0


def growth(exponent: float) -> float:
    """2^exponent, the exponent held within ±`EXPONENT_BOUND`."""
    return float(2.0 ** min(max(exponent, -EXPONENT_BOUND), EXPONENT_BOUND))
