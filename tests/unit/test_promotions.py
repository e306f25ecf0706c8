"""Reserved shares and pins on one list: a later step must not undo an earlier guarantee."""

import random
from collections.abc import Sequence

from contextiq.domain import Recommendation
from contextiq.recommend.promotions import Share, capped, pin, reserve, share_of
from contextiq.rules.definitions import Rule

LIMIT = 10
SPORTS = Rule("more-sports", "reserve", filter='category == "sports"', share=0.3)
ART = Rule("more-art", "reserve", filter='category == "art"', share=0.2)


def _item(content_id: str, category: str, score: float) -> Recommendation:
    return Recommendation(content_id, content_id, category, (), score, score, None, "", "model")


def _ranked(category: str, n: int, top: float = 1.0) -> list[Recommendation]:
    return [_item(f"{category}{k}", category, top - k / 100) for k in range(n)]


def _anything(_listed: list[Recommendation], _item: Recommendation) -> bool:
    return True


def _count(items: Sequence[Recommendation], category: str) -> int:
    return sum(i.category == category for i in items)


def test_a_pin_into_a_full_list_keeps_a_reserves_share() -> None:
    """A pin used to cut the list's last item, which counted toward a reserve's share (a
    matching item the model had ranked there): two sports items were left of a 30 % share."""
    sports = _ranked("sports", 5, top=0.5)
    ranked = [*_ranked("news", LIMIT - 1), sports[0]]
    items, share = reserve(ranked, LIMIT, SPORTS, sports, _anything)
    assert _count(items, "sports") == 3 and items[-1].category == "sports"
    assert share == share_of(SPORTS, LIMIT, sports)

    shares = [share]
    front = Rule("front", "pin", content_id="pinned", position=2)
    out = pin(items, LIMIT, front, _item("pinned", "news", 1.0), shares, ())
    assert len(out) == LIMIT and out[1].content_id == "pinned"
    assert _count(out, "sports") == 3


def test_a_second_reserve_leaves_the_firsts_items() -> None:
    sports, art = _ranked("sports", 5, top=0.5), _ranked("art", 5, top=0.4)
    items, first = reserve(_ranked("news", LIMIT), LIMIT, SPORTS, sports, _anything)
    items, _ = reserve(items, LIMIT, ART, art, _anything, [first])
    assert len(items) == LIMIT
    assert (_count(items, "sports"), _count(items, "art")) == (3, 2)


def test_pins_stay_and_a_share_gives_way_only_when_nothing_else_can() -> None:
    """Every unpinned item is needed: the lowest of them leaves; pinned items never do."""
    sports = _ranked("sports", LIMIT)
    shares = [share_of(Rule("all-sports", "reserve", share=1.0), LIMIT, sports)]
    items = list(sports)
    for n in range(2):
        rule = Rule(f"pin-{n}", "pin", content_id=f"p{n}", position=LIMIT)
        items = pin(items, LIMIT, rule, _item(f"p{n}", "news", 1.0), shares, {"p0"} if n else ())
    assert len(items) == LIMIT
    assert {"p0", "p1"} <= {i.content_id for i in items}
    assert [i.content_id for i in items[:8]] == [f"sports{k}" for k in range(8)]


def test_shares_and_pins_hold_together_whatever_the_list() -> None:
    """Seeded random lists, two reserves and up to three pins, as `_shape` applies them: when
    the quotas and the pins fit in the list, every pin is shown and every quota met."""
    rng = random.Random(7)
    categories = ["news", "sports", "art", "travel"]
    for _ in range(300):
        ranked = [
            _item(f"m{k}", rng.choice(categories), 1 - k / 100) for k in range(rng.randint(0, 14))
        ]
        items = ranked[:LIMIT]
        rules = [SPORTS, ART]
        shares: list[Share] = []
        for rule, category in zip(rules, ("sports", "art"), strict=True):
            candidates = [i for i in ranked if i.category == category]
            candidates += _ranked(category, 5, top=0.3)
            items, share = reserve(items, LIMIT, rule, candidates, _anything, shares)
            shares.append(share)
        pinned: set[str] = set()
        for n in range(rng.randint(0, 3)):
            rule = Rule(f"pin-{n}", "pin", content_id=f"p{n}", position=rng.randint(1, LIMIT + 1))
            chosen = _item(f"p{n}", rng.choice(categories), 1.0)
            items = pin(items, LIMIT, rule, chosen, shares, pinned)
            pinned.add(chosen.content_id)
        ids = [i.content_id for i in items]
        assert len(ids) == len(set(ids)) <= LIMIT
        assert pinned <= set(ids)
        if len(pinned) + sum(s.quota for s in shares) <= LIMIT:
            for share in shares:
                assert sum(i in share.matched for i in ids) >= share.quota, ids


def test_a_category_over_its_cap_loses_first_what_no_share_needs() -> None:
    """A pin puts a third art item in a list capped at two: the art item to go is the lowest
    one no reserve needs, even above one that a share spanning categories holds."""
    items = [
        _item("pinned", "art", 1.0),
        _item("art-free", "art", 0.9),
        *_ranked("news", 6, top=0.8),
        _item("art-held", "art", 0.3),
        _item("news-held", "news", 0.2),
    ]
    publisher = Share(2, frozenset({"art-held", "news-held"}))
    out = capped(items, 2, {"pinned"}, [publisher])
    assert [i.content_id for i in out if i.category == "art"] == ["pinned", "art-held"]
    # Without the share, the lowest unpinned art item goes, as it always did.
    out = capped(items, 2, {"pinned"}, [])
    assert [i.content_id for i in out if i.category == "art"] == ["pinned", "art-free"]
    # When every unpinned art item is needed, the cap still holds: the lowest goes.
    out = capped(items, 2, {"pinned"}, [Share(3, frozenset({"art-free", "art-held", "x"}))])
    assert [i.content_id for i in out if i.category == "art"] == ["pinned", "art-free"]
    assert capped(items, None, (), [publisher]) == items
