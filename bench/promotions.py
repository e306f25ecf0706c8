"""What promotion rules cost a list once it is ranked: two reserves and three pins.

Times the package's own `reserve` and `pin` as `RecommendationService._shape` applies them
(each reserve keeping the shares before it, each pin keeping the shares and earlier pins),
on a ranked list of `limit` items with 300 candidates a reserve, the worst case a request
allows at limit 100. Pure Python on the event loop, so it adds to every request that has
such rules:

    PYTHONPATH=src .venv/bin/python bench/promotions.py [--limit 10] [--repeat 7]
"""

import argparse
import random
import time

from contextiq.domain import Recommendation
from contextiq.recommend.promotions import Share, pin, reserve
from contextiq.rules.definitions import Rule

CANDIDATES = 300
RESERVES = (
    Rule("more-sports", "reserve", filter='category == "sports"', share=0.3),
    Rule("more-music", "reserve", filter='category == "music"', share=0.3),
)


def _item(content_id: str, category: str, score: float) -> Recommendation:
    return Recommendation(content_id, content_id, category, (), score, score, None, "", "model")


def _anything(_listed: list[Recommendation], _item: Recommendation) -> bool:
    return True


def shaped(
    ranked: list[Recommendation],
    candidates: list[list[Recommendation]],
    pins: list[Rule],
    limit: int,
) -> list[Recommendation]:
    items = list(ranked)
    shares: list[Share] = []
    for rule, matching in zip(RESERVES, candidates, strict=True):
        items, share = reserve(items, limit, rule, matching, _anything, shares)
        shares.append(share)
    pinned: set[str] = set()
    for rule in pins:
        assert rule.content_id is not None
        items = pin(items, limit, rule, _item(rule.content_id, "news", 1.0), shares, pinned)
        pinned.add(rule.content_id)
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(1)
    limit = args.limit
    categories = ["news", "art", "travel", "food"]
    ranked = [_item(f"m{k}", rng.choice(categories), 1 - k / 1000) for k in range(limit)]
    candidates = [
        [_item(f"{c}{k}", c, 0.5 - k / 1000) for k in range(CANDIDATES)]
        for c in ("sports", "music")
    ]
    pins = [
        Rule(f"pin-{n}", "pin", content_id=f"p{n}", position=rng.randint(1, limit))
        for n in range(3)
    ]
    best = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for _ in range(50):
            shaped(ranked, candidates, pins, limit)
        best.append((time.perf_counter() - started) / 50)
    print(f"limit {limit}: {min(best) * 1e3:.3f} ms a list (best of {args.repeat} x 50)")


if __name__ == "__main__":
    main()
