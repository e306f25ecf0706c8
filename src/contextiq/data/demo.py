"""Generated demo catalogue and users with hidden tastes, so a model has something to learn.

Everything follows from one seed; no external data is read or shipped.
"""

import random
from datetime import UTC, datetime, timedelta

from contextiq.config import Settings
from contextiq.data.importers import Imported
from contextiq.domain import Content, Interaction, InteractionType, interaction_weight

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


def demo_content(rng: random.Random, n_items: int, anchor: datetime) -> list[Content]:
    names = list(CATEGORIES)
    items = []
    for index in range(n_items):
        category = names[index % len(names)]
        subjects, tags = CATEGORIES[category]
        subject = rng.choice(subjects)
        title = rng.choice(FORMS).format(s=subject)
        chosen = rng.sample(tags, k=rng.randint(2, 3))
        description = (
            f"{title} offers {rng.choice(ANGLES)} on {subject.lower()}, "
            f"for readers into {', '.join(chosen)}."
        )
        items.append(
            Content(
                content_id=f"content_{index + 1:04d}",
                title=title,
                category=category,
                description=description,
                tags=tuple(chosen),
                created_at=anchor - timedelta(days=rng.uniform(0, 365)),
                metadata={"subject": subject, "demo": True},
            )
        )
    return items


def demo_interactions(
    rng: random.Random,
    settings: Settings,
    contents: list[Content],
    n_users: int,
    anchor: datetime,
) -> list[Interaction]:
    """Each user loves one to three categories and a few tags; events follow that taste."""
    by_category: dict[str, list[Content]] = {}
    for c in contents:
        by_category.setdefault(c.category, []).append(c)
    quality = {c.content_id: rng.paretovariate(1.5) for c in contents}
    names = list(by_category)
    all_tags = sorted({t for c in contents for t in c.tags})
    events: list[Interaction] = []
    for u in range(1, n_users + 1):
        user_id = f"user_{u:03d}"
        favourites = rng.sample(names, k=rng.choice([1, 2, 2, 3]))
        liked_tags = set(rng.sample(all_tags, k=4))
        n_events = max(8, min(200, int(rng.lognormvariate(4.2, 0.6))))
        pool = [c for cat in favourites for c in by_category[cat]]
        weights = [
            quality[c.content_id] * (3.0 if liked_tags.intersection(c.tags) else 1.0) for c in pool
        ]
        seen: set[str] = set()
        for _ in range(n_events):
            if rng.random() < 0.08:
                item = rng.choice(
                    by_category[rng.choice([n for n in names if n not in favourites])]
                )
                kind = rng.choice([InteractionType.SKIP, InteractionType.DISLIKE])
            else:
                item = rng.choices(pool, weights)[0]
                kind = rng.choices(
                    [
                        InteractionType.VIEW,
                        InteractionType.LIKE,
                        InteractionType.SAVE,
                        InteractionType.SHARE,
                    ],
                    [0.55, 0.28, 0.11, 0.06],
                )[0]
            if item.content_id in seen:
                continue
            seen.add(item.content_id)
            duration = round(rng.uniform(15, 900), 1) if kind is InteractionType.VIEW else None
            events.append(
                Interaction(
                    event_id=f"demo-{user_id}-{item.content_id}",
                    user_id=user_id,
                    content_id=item.content_id,
                    interaction_type=kind,
                    weight=interaction_weight(settings, kind, duration),
                    occurred_at=anchor - timedelta(days=rng.uniform(0, 120)),
                    duration_seconds=duration,
                )
            )
    return events


def generate(
    settings: Settings,
    seed: int = 42,
    n_items: int = 2_000,
    n_users: int = 500,
    anchor: datetime | None = None,
) -> Imported:
    """The same seed gives the same data; times are relative to `anchor` (default: today)."""
    when = anchor or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    contents = demo_content(rng, n_items, when)
    return Imported(contents, demo_interactions(rng, settings, contents, n_users, when))
