"""Admin rules applied to a ranked list: boosts, reserved slots, pins.

`RuleBook` keeps the rules in process; a change bumps the shared catalogue generation
(which also drops every cached list), and each replica reloads on the next request that
sees the generation move. Without a cache backend it reloads every few seconds.
"""

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
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


def reserve(
    items: list[Recommendation],
    limit: int,
    rule: Rule,
    candidates: Sequence[Recommendation],
    fits: Callable[[list[Recommendation], Recommendation], bool],
) -> list[Recommendation]:
    """Give `rule`'s matching items at least its share of `limit` slots, spread down the list.

    `candidates` are matching items, best first; `fits` says whether one may join a list
    (the per-category cap). Non-matching items leave from the bottom to make room.
    """
    matched = {c.content_id for c in candidates}
    deficit = math.ceil((rule.share or 0.0) * limit - 1e-9)
    deficit -= sum(1 for i in items if i.content_id in matched)
    working = list(items)
    shown = {i.content_id for i in items}
    picks: list[Recommendation] = []
    for c in candidates:
        if len(picks) >= deficit:
            break
        if c.content_id in shown:
            continue
        after = working
        if len(working) + len(picks) >= limit:
            drop = next(
                (
                    j
                    for j in range(len(working) - 1, -1, -1)
                    if working[j].content_id not in matched
                ),
                None,
            )
            if drop is None:
                break
            after = working[:drop] + working[drop + 1 :]
        if fits(after + picks, c):
            working = after
            picks.append(replace(c, reason=rule.reason))
            shown.add(c.content_id)
    step = limit / max(len(picks), 1)
    for k, item in enumerate(picks):
        working.insert(min(int(k * step + step / 2), len(working)), item)
    return working[:limit]


def pin(
    items: list[Recommendation], limit: int, rule: Rule, item: Recommendation
) -> list[Recommendation]:
    """Put `item` at the rule's position (1-based; past the end: last)."""
    rest = [i for i in items if i.content_id != item.content_id]
    at = min(max((rule.position or 1) - 1, 0), len(rest))
    rest.insert(at, replace(item, reason=rule.reason))
    return rest[:limit]
