"""Which arm a user is in: a pure function of the user id and the experiment name.

`bucket` is the first 8 bytes of SHA-256("<experiment>:<user_id>") read as a big-endian
integer over 2^64, so anyone can recompute an assignment (in SQL, in a notebook) and a user
keeps their arm on every replica and across restarts without anything stored.
"""

import hashlib
from collections.abc import Sequence


def bucket(experiment: str, user_id: str) -> float:
    """A uniform number in [0, 1) for this user in this experiment."""
    digest = hashlib.sha256(f"{experiment}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(experiment: str, user_id: str, weights: Sequence[tuple[str, float]]) -> str:
    """The arm whose share of the weights covers the user's bucket (arms in their given order)."""
    total = sum(w for _, w in weights)
    if not weights or total <= 0:
        raise ValueError("an experiment needs arms with positive total weight")
    point = bucket(experiment, user_id) * total
    edge = 0.0
    for name, weight in weights:
        edge += weight
        if point < edge:
            return name
    return weights[-1][0]  # float rounding at the very top
