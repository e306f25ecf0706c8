"""Team-draft interleaving (Radlinski, Kurup and Joachims, 2008) of two ranked lists.

Each round the team with fewer picks (a coin toss on a tie) adds its best item not yet in the
list; every item remembers its team, and a click credits that team. An impression where one
team's items got more clicks is a win for it; over many impressions a sign test decides.
"""

import random
from collections.abc import Sequence


def team_draft(
    first: Sequence[str], second: Sequence[str], limit: int, teams: tuple[str, str], seed: str
) -> list[tuple[str, str]]:
    """Up to `limit` (item, team) pairs drawn from both lists; the coin is seeded per list."""
    coin = random.Random(seed)
    chosen: list[tuple[str, str]] = []
    taken: set[str] = set()
    picks = [0, 0]
    cursors = [0, 0]
    lists = (first, second)
    while len(chosen) < limit:
        remaining = [any(i not in taken for i in lists[t][cursors[t] :]) for t in (0, 1)]
        if not any(remaining):
            break
        if not remaining[0]:
            team = 1
        elif not remaining[1]:
            team = 0
        elif picks[0] != picks[1]:
            team = 0 if picks[0] < picks[1] else 1
        else:
            team = coin.randrange(2)
        source = lists[team]
        while source[cursors[team]] in taken:
            cursors[team] += 1
        item = source[cursors[team]]
        taken.add(item)
        chosen.append((item, teams[team]))
        picks[team] += 1
    return chosen


def outcome(clicked_teams: Sequence[str]) -> str | None:
    """The team with more clicked items, "tie", or None before any click."""
    if not clicked_teams:
        return None
    counts: dict[str, int] = {}
    for team in clicked_teams:
        counts[team] = counts.get(team, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    if len(ranked) > 1 and ranked[0] == ranked[1]:
        return "tie"
    return max(counts, key=lambda t: counts[t])
