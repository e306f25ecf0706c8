"""Generated demo catalogue and users with hidden tastes, so a model has something to learn.

Everything follows from one seed; no external data is read or shipped.
"""

import csv
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contextiq.config import Settings
from contextiq.data.importers import Imported
from contextiq.domain import Content, Interaction, InteractionType, interaction_weight
from contextiq.progress import Tracker

CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    # category: (subjects for titles, tags)
    "technology": (
        [
            "Rust",
            "Kubernetes",
            "WebAssembly",
            "Postgres",
            "Edge Computing",
            "Quantum Chips",
            "Open Source",
            "Compilers",
            "Vector Databases",
            "Home Labs",
            "Linux",
            "Robotics",
        ],
        [
            "programming",
            "cloud",
            "ai",
            "hardware",
            "security",
            "devops",
            "databases",
            "open-source",
        ],
    ),
    "science": (
        [
            "Black Holes",
            "CRISPR",
            "Coral Reefs",
            "Exoplanets",
            "Neurons",
            "Volcanoes",
            "Dark Matter",
            "Fungi Networks",
            "Ancient DNA",
            "Climate Models",
            "Particle Physics",
        ],
        ["space", "biology", "physics", "climate", "genetics", "geology", "research"],
    ),
    "sports": (
        [
            "Marathon Training",
            "Basketball Tactics",
            "Tennis Serves",
            "Climbing Walls",
            "Cycling Tours",
            "Football Analytics",
            "Olympic Swimming",
            "Skateboarding",
            "Chess Openings",
            "Rowing Crews",
        ],
        ["running", "team-sports", "fitness", "olympics", "analytics", "outdoors", "coaching"],
    ),
    "travel": (
        [
            "Lisbon",
            "Kyoto",
            "Patagonia",
            "Iceland",
            "Marrakesh",
            "Night Trains",
            "Island Hopping",
            "Alpine Huts",
            "Street Markets",
            "Road Trips",
            "Hidden Beaches",
        ],
        ["europe", "asia", "adventure", "budget", "rail", "beaches", "city-guides", "hiking"],
    ),
    "food": (
        [
            "Sourdough",
            "Ramen",
            "Fermentation",
            "Street Tacos",
            "Plant-Based Cooking",
            "Espresso",
            "Knife Skills",
            "Dumplings",
            "Spice Blends",
            "Pastry",
            "Barbecue",
        ],
        ["baking", "recipes", "vegan", "coffee", "asian-cuisine", "grilling", "techniques"],
    ),
    "music": (
        [
            "Jazz Standards",
            "Synthesizers",
            "Vinyl Collecting",
            "Film Scores",
            "Indie Folk",
            "Music Theory",
            "Hip-Hop Production",
            "Orchestras",
            "Guitar Pedals",
            "Lo-Fi Beats",
        ],
        ["jazz", "electronic", "production", "instruments", "classical", "indie", "theory"],
    ),
    "movies": (
        [
            "Film Noir",
            "Animation Studios",
            "Documentaries",
            "Sci-Fi Classics",
            "Cinematography",
            "Horror Revivals",
            "Indie Directors",
            "Screenwriting",
            "Silent Films",
            "Heist Movies",
        ],
        ["classics", "animation", "documentary", "sci-fi", "directors", "horror", "reviews"],
    ),
    "business": (
        [
            "Startups",
            "Remote Teams",
            "Pricing",
            "Supply Chains",
            "Venture Capital",
            "Negotiation",
            "Product Management",
            "Small Business",
            "Marketing Funnels",
            "Leadership",
        ],
        ["startups", "management", "finance", "marketing", "strategy", "careers", "productivity"],
    ),
    "health": (
        [
            "Sleep",
            "Meditation",
            "Strength Training",
            "Gut Health",
            "Posture",
            "Nutrition Myths",
            "Stress",
            "Mobility Routines",
            "Hydration",
            "Longevity",
        ],
        ["wellness", "mental-health", "nutrition", "exercise", "sleep", "habits", "longevity"],
    ),
    "art": (
        [
            "Watercolor",
            "Street Art",
            "Typography",
            "Ceramics",
            "Photography",
            "Impressionism",
            "Digital Illustration",
            "Sculpture",
            "Museums",
            "Printmaking",
        ],
        ["painting", "design", "photography", "crafts", "history", "illustration", "museums"],
    ),
}

FORMS = [
    "A Beginner's Guide to {s}",
    "Why {s} Matters Now",
    "{s}: The Complete Picture",
    "10 Lessons from {s}",
    "Inside the World of {s}",
    "{s} Explained in 15 Minutes",
    "The Hidden History of {s}",
    "How Experts Approach {s}",
    "{s} on a Budget",
    "The Future of {s}",
    "Mistakes Everyone Makes with {s}",
    "A Weekend with {s}",
    "{s}, Revisited",
    "What Nobody Tells You About {s}",
    "Mastering {s}",
]
ANGLES = [
    "practical tips",
    "a deep dive",
    "interviews with practitioners",
    "a short history",
    "common myths",
    "step-by-step examples",
    "the latest research",
    "a personal story",
]


#: Every kind a demo event can have; columns store the index into this tuple.
KINDS = (
    InteractionType.VIEW,
    InteractionType.LIKE,
    InteractionType.SAVE,
    InteractionType.SHARE,
    InteractionType.SKIP,
    InteractionType.DISLIKE,
)
POSITIVE_SHARES = (0.55, 0.28, 0.11, 0.06)  # view, like, save, share
NEGATIVE_SHARE = 0.08  # skips and dislikes, on a category the user does not favour
TAGGED_SHARE = 0.5  # positive events drawn among items carrying one of the user's liked tags
CATALOGUE_DAYS = 365
EVENT_DAYS = 120
_DAY_S = 86_400
_TOP_UP_ROUNDS = 20
_SLICE = 50_000

Array = NDArray[Any]


@dataclass(frozen=True, slots=True, eq=False)
class DemoData:
    """A generated catalogue and its events as numpy columns; rows are built a slice at a time.

    Items are numbered 0..n_items-1 (ids `content_0001`…), users 0..n_users-1 (`user_001`…);
    events are ordered by user, then time. Building objects a slice at a time keeps 5 million
    events in a few hundred MB.
    """

    anchor: datetime
    n_users: int
    item_category: Array
    item_subject: Array
    item_form: Array
    item_angle: Array
    item_tags: Array  # (n_items, 3) indexes into the category's tags; -1 pads two-tag items
    item_age_s: Array
    event_user: Array
    event_item: Array
    event_kind: Array  # index into KINDS
    event_duration: Array  # seconds for views, NaN otherwise
    event_age_s: Array

    @property
    def n_items(self) -> int:
        return len(self.item_category)

    @property
    def n_events(self) -> int:
        return len(self.event_user)

    def contents(self, start: int = 0, stop: int | None = None) -> list[Content]:
        names = list(CATEGORIES)
        out = []
        for index in range(start, self.n_items if stop is None else stop):
            category = names[self.item_category[index]]
            subjects, tags = CATEGORIES[category]
            subject = subjects[self.item_subject[index]]
            title = FORMS[self.item_form[index]].format(s=subject)
            chosen = [tags[t] for t in self.item_tags[index] if t >= 0]
            description = (
                f"{title} offers {ANGLES[self.item_angle[index]]} on {subject.lower()}, "
                f"for readers into {', '.join(chosen)}."
            )
            out.append(
                Content(
                    content_id=content_id(index),
                    title=title,
                    category=category,
                    description=description,
                    tags=tuple(chosen),
                    created_at=self.anchor - timedelta(seconds=int(self.item_age_s[index])),
                    metadata={"subject": subject, "demo": True},
                )
            )
        return out

    def interactions(
        self, settings: Settings, start: int = 0, stop: int | None = None
    ) -> list[Interaction]:
        fixed = {kind: interaction_weight(settings, kind) for kind in KINDS}
        out = []
        stop = self.n_events if stop is None else stop
        users = self.event_user[start:stop].tolist()
        items = self.event_item[start:stop].tolist()
        kinds = self.event_kind[start:stop].tolist()
        durations = self.event_duration[start:stop].tolist()
        ages = self.event_age_s[start:stop].tolist()
        for user, item, k, duration, age in zip(users, items, kinds, durations, ages, strict=True):
            kind = KINDS[k]
            seconds = None if math.isnan(duration) else duration
            uid, cid = user_id(user), content_id(item)
            out.append(
                Interaction(
                    event_id=f"demo-{uid}-{cid}",
                    user_id=uid,
                    content_id=cid,
                    interaction_type=kind,
                    weight=interaction_weight(settings, kind, seconds) if seconds else fixed[kind],
                    occurred_at=self.anchor - timedelta(seconds=age),
                    duration_seconds=seconds,
                )
            )
        return out

    def write_files(self, directory: Path, tracker: Tracker | None = None) -> tuple[Path, Path]:
        """`content.csv` and `interactions.csv` in the generic import format (docs: Import).

        Interactions carry no event id, so an import derives them from file and line. They are
        written oldest first, as an event log is exported: stored in that order, a user's rows
        lie far apart, which is what a real import gives the database (docs/benchmarks.md,
        "A user's history in one place").
        """
        directory.mkdir(parents=True, exist_ok=True)
        content_path, events_path = directory / "content.csv", directory / "interactions.csv"
        with content_path.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(
                ["content_id", "title", "category", "description", "tags", "created_at", "metadata"]
            )
            for start in range(0, self.n_items, _SLICE):
                out.writerows(
                    (
                        c.content_id,
                        c.title,
                        c.category,
                        c.description,
                        "|".join(c.tags),
                        _iso(c.created_at or self.anchor),
                        json.dumps(c.metadata),
                    )
                    for c in self.contents(start, min(start + _SLICE, self.n_items))
                )
        anchor = np.datetime64(self.anchor.astimezone(UTC).replace(tzinfo=None), "s")
        with events_path.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(
                ["user_id", "content_id", "interaction_type", "timestamp", "duration_seconds"]
            )
            oldest_first = np.argsort(-self.event_age_s, kind="stable")
            for start in range(0, self.n_events, _SLICE):
                rows = oldest_first[start : start + _SLICE]
                times = np.datetime_as_string(
                    anchor - self.event_age_s[rows].astype("timedelta64[s]"), unit="s"
                )
                out.writerows(
                    (user_id(u), content_id(i), KINDS[k].value, f"{t}Z", "" if d != d else d)
                    for u, i, k, t, d in zip(
                        self.event_user[rows].tolist(),
                        self.event_item[rows].tolist(),
                        self.event_kind[rows].tolist(),
                        times.tolist(),
                        self.event_duration[rows].tolist(),
                        strict=True,
                    )
                )
                if tracker:
                    tracker.advance(len(rows))
        return content_path, events_path


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_id(index: int) -> str:
    return f"content_{index + 1:04d}"


def user_id(index: int) -> str:
    return f"user_{index + 1:03d}"


def _items(rng: np.random.Generator, n_items: int) -> dict[str, Array]:
    names = list(CATEGORIES)
    n_subjects = np.array([len(CATEGORIES[c][0]) for c in names])
    n_tags = np.array([len(CATEGORIES[c][1]) for c in names])
    category = np.arange(n_items) % len(names)
    subject = (rng.random(n_items) * n_subjects[category]).astype(np.int16)
    # Two or three distinct tags of the item's category: the first columns of a random order.
    keys = rng.random((n_items, int(n_tags.max())))
    keys[np.arange(keys.shape[1])[None, :] >= n_tags[category][:, None]] = np.inf
    tags = np.argsort(keys, axis=1)[:, :3].astype(np.int8)
    tags[rng.random(n_items) < 0.5, 2] = -1
    return {
        "item_category": category.astype(np.int8),
        "item_subject": subject,
        "item_form": rng.integers(0, len(FORMS), n_items).astype(np.int8),
        "item_angle": rng.integers(0, len(ANGLES), n_items).astype(np.int8),
        "item_tags": tags,
        "item_age_s": rng.integers(0, CATALOGUE_DAYS * _DAY_S, n_items),
    }


class _Sampler:
    """Draws items for users: power-law popularity within favourite categories and tags."""

    def __init__(self, rng: np.random.Generator, items: dict[str, Array], n_users: int) -> None:
        self.rng = rng
        n_categories = len(CATEGORIES)
        n_tags = np.array([len(tags) for _, tags in CATEGORIES.values()])
        category, tags = items["item_category"], items["item_tags"]
        quality = rng.pareto(1.5, len(category)) + 1.0  # heavy-tailed item popularity
        max_tags = int(n_tags.max())
        # Bucket c: every item of category c; bucket n_categories + c * max_tags + t: those
        # of category c carrying tag t. Each holds its items and their cumulative popularity.
        self.members: list[Array] = []
        self.cumulative: list[Array] = []
        for bucket in range(n_categories * (1 + max_tags)):
            if bucket < n_categories:
                members = np.flatnonzero(category == bucket)
            else:
                c, t = divmod(bucket - n_categories, max_tags)
                members = np.flatnonzero((category == c) & (tags == t).any(axis=1))
            self.members.append(members)
            self.cumulative.append(np.cumsum(quality[members]))
        self.n_categories, self.max_tags = n_categories, max_tags
        self.n_favourites = rng.choice(np.array([1, 2, 2, 3]), n_users)
        # Row u: user u's categories in a random order; the first n_favourites[u] are loved.
        self.order = np.argsort(rng.random((n_users, n_categories)), axis=1)
        self.liked_tag = (rng.random((n_users, 3)) * n_tags[self.order[:, :3]]).astype(np.int64)

    def draw(self, users: Array) -> tuple[Array, Array]:
        """One item and kind per entry of `users`."""
        rng, n = self.rng, len(users)
        favourites = self.n_favourites[users]
        negative = rng.random(n) < NEGATIVE_SHARE
        slot = (rng.random(n) * favourites).astype(np.int64)
        other = favourites + (rng.random(n) * (self.n_categories - favourites)).astype(np.int64)
        category = self.order[users, np.where(negative, other, slot)]
        tagged = ~negative & (rng.random(n) < TAGGED_SHARE)
        tag_bucket = self.n_categories + category * self.max_tags + self.liked_tag[users, slot % 3]
        bucket = np.where(tagged, tag_bucket, category)
        uniform = rng.random(n)
        items = np.empty(n, dtype=np.int64)
        for b in np.unique(bucket):
            rows = np.flatnonzero(bucket == b)
            members, cumulative = self.members[b], self.cumulative[b]
            if len(members) == 0:  # a tag no item of a small catalogue carries
                members, cumulative = (
                    self.members[b % self.n_categories],
                    self.cumulative[b % self.n_categories],
                )
            pos = np.where(
                negative[rows],
                (uniform[rows] * len(members)).astype(np.int64),
                np.searchsorted(cumulative, uniform[rows] * cumulative[-1], side="right"),
            )
            items[rows] = members[np.minimum(pos, len(members) - 1)]
        kinds = np.where(
            negative,
            4 + rng.integers(0, 2, n),
            rng.choice(len(POSITIVE_SHARES), n, p=np.array(POSITIVE_SHARES)),
        )
        return items, kinds.astype(np.int8)


def _events_per_user(rng: np.random.Generator, n_users: int, total: int | None) -> Array:
    raw = rng.lognormal(4.2, 0.6, n_users)
    counts: Array
    if total is None:
        counts = np.clip(raw.astype(np.int64), 8, 200)
        return counts
    counts = np.floor(raw / raw.sum() * total).astype(np.int64)
    short = total - int(counts.sum())
    counts[rng.choice(n_users, short, replace=short > n_users)] += 1
    return counts


def demo_data(
    seed: int = 42,
    n_items: int = 2_000,
    n_users: int = 500,
    n_interactions: int | None = None,
    anchor: datetime | None = None,
) -> DemoData:
    """The same arguments give the same data; times are relative to `anchor` (default: today).

    Each user loves one to three categories and one tag within each; events follow that taste
    and each item's heavy-tailed popularity, and a user meets an item at most once. Without
    `n_interactions` a user has 8-200 events (about 80 on average); with it, the per-user
    counts are scaled to that total (reached exactly unless the catalogue is too small).
    """
    if n_items < len(CATEGORIES) or n_users < 1:
        raise ValueError(f"the demo needs at least {len(CATEGORIES)} items and one user")
    when = anchor or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(seed)
    items = _items(rng, n_items)
    sampler = _Sampler(rng, items, n_users)
    wanted = _events_per_user(rng, n_users, n_interactions)
    users = np.zeros(0, dtype=np.int64)
    chosen = np.zeros(0, dtype=np.int64)
    kinds = np.zeros(0, dtype=np.int8)
    deficit = wanted
    for _ in range(_TOP_UP_ROUNDS):  # redraw what repeats took away
        more = np.repeat(np.arange(n_users), deficit)
        more_items, more_kinds = sampler.draw(more)
        users = np.concatenate([users, more])
        chosen = np.concatenate([chosen, more_items])
        kinds = np.concatenate([kinds, more_kinds])
        _, first = np.unique(users * n_items + chosen, return_index=True)
        keep = np.sort(first)
        users, chosen, kinds = users[keep], chosen[keep], kinds[keep]
        deficit = wanted - np.bincount(users, minlength=n_users)
        if not deficit.any():
            break
    n = len(users)
    age = rng.integers(0, EVENT_DAYS * _DAY_S, n)
    duration = np.where(kinds == 0, np.round(rng.uniform(15, 900, n), 1), np.nan)
    order = np.lexsort((-age, users))  # per user, oldest first
    return DemoData(
        anchor=when,
        n_users=n_users,
        **items,
        event_user=users[order].astype(np.int32),
        event_item=chosen[order].astype(np.int32),
        event_kind=kinds[order],
        event_duration=duration[order],
        event_age_s=age[order],
    )


def generate(
    settings: Settings,
    seed: int = 42,
    n_items: int = 2_000,
    n_users: int = 500,
    anchor: datetime | None = None,
) -> Imported:
    """Small demos as objects, for tests; large ones go through `demo_data` slice by slice."""
    data = demo_data(seed, n_items, n_users, anchor=anchor)
    return Imported(data.contents(), data.interactions(settings))
