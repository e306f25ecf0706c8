"""How a blend chooses its mix on a holdout carved from its training data.

A blend's parts come in order; the first takes what the others leave, and each later part
takes a share of the mix of those before it (`Mix`). The shares and how much a history's
latest items count (`Recency`) are picked on the holdout, like Gorse's AutoML picks a
model: one round per later part, each trying that part's share grid with every recency
boost, the earlier parts' shares fixed at the best so far. Parts that need events in time
order (transitions) only get a round when events carry timestamps.

The holdout has two parts when events carry timestamps: each user's latest event (what a
recommender is for: the next thing) and a random share of the rest (the user's broader
taste). Only settings that lose at most `random_tolerance` of the best nDCG@10 on the
random part are eligible, so recency is used as far as it helps the next event without
forgetting the rest of the profile. Among them the choice is judged on the latest events
(on the random part when there are none).

A mix is judged against the best single part, not by its mean alone: a mix chosen for the
best mean among dozens is flattered by the holdout's noise (the winner's curse), and on test
it can land below the part it was meant to improve. So each eligible mix is scored by the
lower bound of its paired per-user gain over the best eligible single part (the best of the
eligible mixes with the fewest parts, when no single part is eligible): mean difference
minus `margin` standard errors of that difference over the judged users (what a bootstrap
over users estimates, without its randomness). The mix with the highest bound wins; when no
mix beats the single part by more than `margin` standard errors, the single part is kept.
The default margin is 0 (the best mean wins): the bound's protection did not yet pay on the
benchmarks (`ChoiceConfig.margin`).

Every part's scores are standardised per user before mixing, so a share means the same
thing for every user. Judging runs on a seeded sample of users, a batch of rows at a time
(`holdout.row_batches`), so a 100,000-item catalogue never needs a dense user x item matrix.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.data import IdMap, Recency, history_matrices, history_matrix, order_matrix
from contextiq.ml.evaluate import histories_by_user
from contextiq.ml.holdout import (
    JUDGED_USERS,
    mean_gain,
    ranked_unseen,
    ranking_gains,
    row_batches,
    sample_users,
)

Histories = Mapping[str, Mapping[str, float]]


class Family(Protocol):
    """What the mix needs of each part: scores for many histories given as sparse rows."""

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class Mix:
    """Each later part's share of the mix before it (the first part takes the rest), and recency."""

    shares: dict[str, float] = field(default_factory=dict)
    recency: Recency = field(default_factory=Recency)

    def share(self, name: str) -> float:
        return self.shares.get(name, 0.0)

    def coefficients(self, names: Sequence[str]) -> dict[str, float]:
        """What each part weighs in the final sum, for parts in blend order."""
        weights: dict[str, float] = {}
        left = 1.0
        for name in reversed(names[1:]):
            weights[name] = left * self.share(name)
            left *= 1 - self.share(name)
        weights[names[0]] = left
        return {name: weights[name] for name in names}


@dataclass(frozen=True)
class Contender:
    """A fitted part as the choice sees it."""

    name: str
    family: Family
    shares: tuple[float, ...] = ()
    reads_recency: bool = True
    #: Scores linear in the history: two products give every recency boost.
    linear: bool = False
    #: Reads histories as rows of `data.order_matrix` (the order of the items), not strengths.
    reads_order: bool = False


@dataclass(frozen=True)
class ChoiceConfig:
    recency_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
    #: The share of the best random-part nDCG@10 a setting may lose and stay eligible; 1 holds
    #: nothing back, so only the latest events judge (the "blend-next" family).
    random_tolerance: float = 0.01
    #: Standard errors by which a mix must beat the best single part to be chosen over it.
    #: 0 (the best mean wins) by default: at 1.0 latest-small's stratified nDCG@10 fell from
    #: 0.4091 to 0.3991 while ML-100K and Last.fm did not move (docs/benchmarks.md).
    margin: float = 0.0
    max_users: int = JUDGED_USERS
    seed: int = 0
    #: On large data (`scale.LARGE_EVENTS`) every judged setting ranks the whole catalogue
    #: for each judged user: fewer boosts and users there (and every other share, `blend.py`).
    large_recency_grid: tuple[float, ...] = (0.0, 1.0, 4.0)
    large_max_users: int = 1000

    def at_scale(self) -> "ChoiceConfig":
        """The coarser choice used on large data."""
        return replace(self, recency_grid=self.large_recency_grid, max_users=self.large_max_users)


Gains = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Judged:
    """A mix and its per-user nDCG@10 on the random part and on the latest events."""

    mix: Mix
    shuffled: Gains
    latest: Gains

    @property
    def primary(self) -> Gains:
        """What the choice is judged on: the latest events, else the random part."""
        return self.latest if len(self.latest) else self.shuffled


def _mean(gains: Gains) -> float:
    return float(gains.mean()) if len(gains) else 0.0


def standardise(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Zero mean, unit spread along the last axis (per user), so families mix on one scale."""
    centred = np.asarray(scores - scores.mean(axis=-1, keepdims=True), np.float32)
    # One pass of dot products for the spread, in place after: batches of 100,000-item rows.
    spread = np.sqrt(np.einsum("...i,...i->...", centred, centred) / max(scores.shape[-1], 1))
    centred /= np.where(spread == 0, 1.0, spread)[..., None].astype(np.float32)
    return centred


def judged_users(held: Sequence[Sequence[WeightedInteraction]], limit: int, seed: int) -> list[str]:
    """The users a holdout judges: every user with held events, or a seeded sample of them."""
    users = np.array(sorted({e.user_id for part in held for e in part}), dtype=object)
    chosen = sample_users(np.arange(len(users)), limit, seed)
    return [str(u) for u in users[chosen]]


def fresh_rows(
    users: Sequence[str], histories: Histories, held: Sequence[WeightedInteraction], items: IdMap
) -> sp.csr_matrix:
    """Rows of held-out positives per user that the user does not already have in train."""
    by_user = histories_by_user(held)
    rows = [
        {i: 1.0 for i, w in by_user.get(u, {}).items() if w > 0 and i not in histories.get(u, {})}
        for u in users
    ]
    return history_matrix(rows, items)


class _Holdout:
    """Judged users' train rows (read with every recency) and held-out rows, by batch."""

    def __init__(
        self,
        histories: Histories,
        parts: Sequence[Sequence[WeightedInteraction]],
        items: IdMap,
        boosts: Sequence[float],
        config: ChoiceConfig,
    ) -> None:
        users = judged_users(parts, config.max_users, config.seed)
        self.boosts = boosts
        self.held = [fresh_rows(users, histories, part, items) for part in parts]
        rows = [histories.get(u, {}) for u in users]
        recencies = [Recency(), Recency(1.0), *map(Recency, boosts)]
        self.seen, self.unit, *self.read = history_matrices(rows, items, recencies)
        self.order = order_matrix(rows, items)
        self.n_items = len(items)

    def batches(self, copies: int) -> list[slice]:
        return list(row_batches(self.seen.shape[0], self.n_items, copies))

    def profiles(self, part: Contender, rows: slice) -> dict[float, npt.NDArray[np.float32]]:
        """A part's standardised scores on these rows, for every recency boost."""
        seen = self.seen[rows]
        if part.reads_order:
            ordered = standardise(part.family.score_matrix(self.order[rows]))
            return dict.fromkeys(self.boosts, ordered)
        if not part.reads_recency:
            flat = standardise(part.family.score_matrix(seen))
            return dict.fromkeys(self.boosts, flat)
        if part.linear:
            base = part.family.score_matrix(seen)
            step = part.family.score_matrix(self.unit[rows]) - base
            return {b: standardise(base + b * step) for b in self.boosts}
        return {
            b: standardise(part.family.score_matrix(read[rows]))
            for b, read in zip(self.boosts, self.read, strict=True)
        }

    def gains(self, scores: npt.NDArray[np.float32], rows: slice) -> list[npt.NDArray[np.float64]]:
        ranked = ranked_unseen(scores, self.seen[rows])
        return [ranking_gains(ranked, held[rows]) for held in self.held]


def choose_mix(
    parts: Sequence[Contender],
    histories: Histories,
    shuffled: Sequence[WeightedInteraction],
    latest: Sequence[WeightedInteraction],
    items: IdMap,
    config: ChoiceConfig,
) -> Mix:
    """The mix the module docstring's rule picks among `parts`, fitted to `histories`."""
    boosts = config.recency_grid if latest else (0.0,)
    holdout = _Holdout(histories, (shuffled, latest), items, boosts, config)
    names = [p.name for p in parts]
    candidates: list[Judged] = []
    best = Mix(dict.fromkeys(names[1:], 0.0))
    for k, part in enumerate(parts[1:], start=1):
        shares = part.shares if k == 1 else tuple(s for s in part.shares if s > 0)
        mixes = [Mix({**best.shares, part.name: s}, Recency(b)) for b in boosts for s in shares]
        candidates.extend(_judge_round(parts[: k + 1], best, mixes, holdout))
        best = pick(candidates, names, config)
    return best


def _judge_round(
    parts: Sequence[Contender], before: Mix, mixes: Sequence[Mix], holdout: _Holdout
) -> list[Judged]:
    """Each of `mixes` judged: (1 - share) x the earlier parts at `before` + share x the new one."""
    *earlier, new = parts
    earlier_names = [p.name for p in earlier]
    coefficients = before.coefficients(earlier_names)
    gains: list[list[list[npt.NDArray[np.float64]]]] = [[[], []] for _ in mixes]
    for rows in holdout.batches(copies=2 * len(parts) * len(holdout.boosts) + 4):
        scored = {p.name: holdout.profiles(p, rows) for p in parts}
        previous = {
            b: np.asarray(sum(coefficients[n] * scored[n][b] for n in earlier_names), np.float32)
            for b in holdout.boosts
        }
        for mix, judged in zip(mixes, gains, strict=True):
            share, boost = mix.share(new.name), mix.recency.boost
            mixed = (1 - share) * previous[boost] + share * scored[new.name][boost]
            for total, batch in zip(judged, holdout.gains(mixed, rows), strict=True):
                total.append(batch)
    return [
        Judged(mix, _joined(shuffled), _joined(latest))
        for mix, (shuffled, latest) in zip(mixes, gains, strict=True)
    ]


def _joined(batches: list[Gains]) -> Gains:
    return np.concatenate([np.zeros(0, np.float64), *batches])


def pick(candidates: Sequence[Judged], names: Sequence[str], config: ChoiceConfig) -> Mix:
    """The module docstring's rule: the eligible mix with the best bound over the best single."""
    floor = max(_mean(c.shuffled) for c in candidates) * (1 - config.random_tolerance)
    eligible = [c for c in candidates if _mean(c.shuffled) >= floor]
    reference = max(
        eligible,
        key=lambda c: (-_parts_used(c.mix, names), _mean(c.primary), _mean(c.shuffled)),
    )
    bounds = [(gain_bound(c.primary, reference.primary, config.margin), c) for c in eligible]
    bound, chosen = max(bounds, key=lambda b: b[0])
    return chosen.mix if bound > 0 else reference.mix


def _parts_used(mix: Mix, names: Sequence[str]) -> int:
    return sum(1 for weight in mix.coefficients(names).values() if weight > 0)


def gain_bound(gains: Gains, reference: Gains, margin: float) -> float:
    """Mean paired per-user gain over `reference`, less `margin` standard errors of it."""
    if len(gains) == 0:
        return 0.0
    difference = gains - reference
    if len(difference) < 2:
        return float(difference.mean())
    error = float(difference.std(ddof=1)) / float(np.sqrt(len(difference)))
    return float(difference.mean()) - margin * error


def even_mix_judge(
    earlier: Sequence[Family],
    histories: Histories,
    held: Sequence[WeightedInteraction],
    items: IdMap,
    config: ChoiceConfig,
) -> Callable[[Family], float]:
    """nDCG@10 on `held` of an even mix of a part with the `earlier` ones: a part's judge.

    The mix wants a sharper embedding than the one that ranks best alone, so its epochs
    are chosen by what it adds to the parts before it.
    """
    holdout = _Holdout(histories, (held,), items, (0.0,), config)
    n = len(earlier) + 1

    def judge(family: Family) -> float:
        gains: list[npt.NDArray[np.float64]] = []
        for rows in holdout.batches(copies=n + 2):
            seen = holdout.seen[rows]
            parts: Any = [standardise(f.score_matrix(seen)) for f in [family, *earlier]]
            mixed = sum(parts) / n if n > 1 else parts[0]
            gains.extend(holdout.gains(np.asarray(mixed, np.float32), rows))
        return mean_gain(gains)

    return judge
