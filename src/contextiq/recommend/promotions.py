"""Admin rules applied to a ranked list: boosts, reserved slots, pins.

`RuleBook` keeps the rules in process; a change bumps the shared catalogue generation
(which also drops every cached list), and each replica reloads on the next request that
sees the generation move. Without a cache backend it reloads every few seconds.
"""

import asyncio
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from contextiq.domain import Content, Recommendation
from contextiq.rules.definitions import Rule
from contextiq.rules.predicate import matches
from contextiq.store.rules import RuleStore

#: How often rules are re-read while the cache backend (and so the generation) is away.
UNSHARED_REFRESH_SECONDS = 5.0


class RuleBook:
    def __init__(self, rules: RuleStore) -> None:
        self.rules = rules
        self._loaded: list[Rule] = []
        self._generation: int | None = None
        self._at = -math.inf
        self._lock = asyncio.Lock()

    async def current(self, generation: int | None) -> list[Rule]:
        if self._fresh(generation):
            return self._loaded
        async with self._lock:
            if not self._fresh(generation):
                self._loaded = await self.rules.all()
                self._generation, self._at = generation, time.monotonic()
        return self._loaded

    def forget(self) -> None:
        """Reload on the next request (this process changed the rules)."""
        self._at = -math.inf

    def _fresh(self, generation: int | None) -> bool:
        if generation is None:
            return time.monotonic() - self._at < UNSHARED_REFRESH_SECONDS
        return generation == self._generation and self._at > -math.inf


def next_change(rules: Sequence[Rule], now: datetime) -> float | None:
    """Seconds until a rule starts or ends; None if none will."""
    ahead = [
        (m - now).total_seconds()
        for r in rules
        for m in (r.starts_at, r.ends_at)
        if m is not None and m > now
    ]
    return min(ahead, default=None)


def boost(
    items: list[Recommendation], rules: Sequence[Rule], contents: dict[str, Content]
) -> list[Recommendation]:
    """Multiply matching items' scores by each boost's factor; re-sort by score."""
    boosts = [r for r in rules if r.kind == "boost" and r.expression is not None]
    if not boosts:
        return items
    out = []
    for item in items:
        content = contents.get(item.content_id)
        for rule in boosts:
            if content is not None and matches(rule.expression, content):  # type: ignore[arg-type]
                item = replace(item, score=item.score * (rule.factor or 1.0), reason=rule.reason)
        out.append(item)
    return sorted(out, key=lambda r: r.score, reverse=True)


@dataclass(frozen=True, slots=True)
class Share:
    """A reserve rule's hold on a list: at least `quota` of its items come from `matched`."""

    quota: int
    matched: frozenset[str]


def share_of(rule: Rule, limit: int, candidates: Sequence[Recommendation]) -> Share:
    quota = math.ceil((rule.share or 0.0) * limit - 1e-9)
    return Share(quota, frozenset(c.content_id for c in candidates))


def leaving_order(
    items: Sequence[Recommendation], shares: Sequence[Share], pinned: Collection[str]
) -> Iterator[int]:
    """Which items may leave the list, lowest first: each is neither pinned nor needed, so
    every share it counts toward keeps its quota once it and those yielded before it have
    left. Descending indices, so deleting each as it comes leaves the rest valid; lazy, since
    a caller usually takes one or two."""
    ids = [i.content_id for i in items]
    spare = [len(s.matched.intersection(ids)) - s.quota for s in shares]
    for j in range(len(ids) - 1, -1, -1):
        if ids[j] in pinned:
            continue
        counts_toward = [k for k, s in enumerate(shares) if ids[j] in s.matched]
        if all(spare[k] > 0 for k in counts_toward):
            for k in counts_toward:
                spare[k] -= 1
            yield j


def lowest_outside(items: Sequence[Recommendation], kept: Collection[str]) -> Iterator[int]:
    """Indices of the items not in `kept`, lowest first."""
    return (j for j in range(len(items) - 1, -1, -1) if items[j].content_id not in kept)


def reserve(
    items: list[Recommendation],
    limit: int,
    rule: Rule,
    candidates: Sequence[Recommendation],
    fits: Callable[[list[Recommendation], Recommendation], bool],
    shares: Sequence[Share] = (),
) -> tuple[list[Recommendation], Share]:
    """Give `rule`'s matching items at least its share of `limit` slots, spread down the list;
    with the list, the rule's `Share` for the steps after it to keep.

    `candidates` are matching items, best first; `fits` says whether one may join a list
    (the per-category cap). Items leave from the bottom to make room, but none that an
    earlier reserve's `shares` still needs.
    """
    own = share_of(rule, limit, candidates)
    held = [*shares, own]
    deficit = own.quota - sum(1 for i in items if i.content_id in own.matched)
    working = list(items)
    leaving = leaving_order(working, held, ())
    drop = next(leaving, None)
    shown = {i.content_id for i in items}
    picks: list[Recommendation] = []
    for c in candidates:
        if len(picks) >= deficit:
            break
        if c.content_id in shown:
            continue
        after = working
        if len(working) + len(picks) >= limit:
            if drop is None:
                break
            after = working[:drop] + working[drop + 1 :]
        if fits(after + picks, c):
            if after is not working:
                drop = next(leaving, None)
            working = after
            picks.append(replace(c, reason=rule.reason))
            shown.add(c.content_id)
    step = limit / max(len(picks), 1)
    for k, item in enumerate(picks):
        working.insert(min(int(k * step + step / 2), len(working)), item)
    return working[:limit], own


def pin(
    items: list[Recommendation],
    limit: int,
    rule: Rule,
    item: Recommendation,
    shares: Sequence[Share],
    pinned: Collection[str],
) -> list[Recommendation]:
    """Put `item` at the rule's position (1-based; past the end: last). A full list loses its
    lowest item that is neither `pinned` nor needed by a reserve's `shares` (the lowest
    unpinned one if every item is needed)."""
    rest = [i for i in items if i.content_id != item.content_id]
    at = min(max((rule.position or 1) - 1, 0), len(rest))
    rest.insert(at, replace(item, reason=rule.reason))
    kept = {*pinned, item.content_id}
    while len(rest) > limit:
        drop = next(leaving_order(rest, shares, kept), None)
        if drop is None:  # every unpinned item is needed: the lowest of them goes, never a pin
            drop = next(lowest_outside(rest, kept), len(rest) - 1)
        del rest[drop]
    return rest


def capped(
    items: list[Recommendation], cap: int | None, pinned: Collection[str], shares: Sequence[Share]
) -> list[Recommendation]:
    """Drop the lowest unpinned items of each category over `cap` (pins pushed it there),
    first those no reserve's `shares` needs: a share gives way to the cap, the request's own
    limit, only when nothing else of that category can."""
    if cap is None:
        return items
    for category, count in Counter(i.category for i in items).items():
        if count <= cap:
            continue
        stays = {i.content_id for i in items if i.category != category} | set(pinned)
        spare = set(itertools.islice(leaving_order(items, shares, stays), count - cap))
        needed = (j for j in lowest_outside(items, stays) if j not in spare)
        gone = {*spare, *itertools.islice(needed, count - cap - len(spare))}
        items = [item for j, item in enumerate(items) if j not in gone]
    return items
