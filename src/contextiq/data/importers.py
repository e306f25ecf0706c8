"""Readers that turn public datasets into catalogue items and interactions (generic files:
data/files.py).

Ratings map to interaction types (5 save, 4 like, 3 view, 1-2 dislike), so imported data
goes through the same weights as live traffic.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contextiq.config import Settings
from contextiq.domain import Content, Interaction, InteractionType, interaction_weight

ML100K_GENRES = [
    "unknown",
    "action",
    "adventure",
    "animation",
    "children",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "fantasy",
    "film-noir",
    "horror",
    "musical",
    "mystery",
    "romance",
    "sci-fi",
    "thriller",
    "war",
    "western",
]


@dataclass(slots=True)
class Imported:
    contents: list[Content] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)


def rating_type(rating: float) -> InteractionType:
    if rating >= 4.5:
        return InteractionType.SAVE
    if rating >= 3.5:
        return InteractionType.LIKE
    if rating >= 2.5:
        return InteractionType.VIEW
    return InteractionType.DISLIKE


def _rating_event(
    settings: Settings, source: str, user: str, item: str, rating: float, ts: float
) -> Interaction:
    kind = rating_type(rating)
    return Interaction(
        event_id=f"{source}-{user}-{item}",
        user_id=f"u{user}",
        content_id=f"m{item}",
        interaction_type=kind,
        weight=interaction_weight(settings, kind),
        occurred_at=datetime.fromtimestamp(ts, UTC),
    )


def movielens_100k(path: Path, settings: Settings) -> Imported:
    out = Imported()
    with (path / "u.item").open(encoding="latin-1") as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            if len(parts) < 24:
                continue
            genres = [g for g, flag in zip(ML100K_GENRES, parts[5:24], strict=True) if flag == "1"]
            out.contents.append(
                Content(
                    content_id=f"m{parts[0]}",
                    title=parts[1],
                    category=genres[0] if genres else "unknown",
                    description=f"{parts[1]} ({', '.join(genres)})",
                    tags=tuple(genres),
                    metadata={"release_date": parts[2], "imdb_url": parts[4]},
                )
            )
    with (path / "u.data").open() as f:
        for line in f:
            user, item, rating, ts = line.split("\t")
            out.interactions.append(
                _rating_event(settings, "ml100k", user, item, float(rating), float(ts))
            )
    return out


def movielens_small(path: Path, settings: Settings) -> Imported:
    out = Imported()
    tags: dict[str, list[str]] = {}
    with (path / "tags.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            bucket = tags.setdefault(row["movieId"], [])
            tag = row["tag"].strip().lower()[:100]
            if tag and tag not in bucket and len(bucket) < 20:
                bucket.append(tag)
    with (path / "movies.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            genres = [g.lower() for g in row["genres"].split("|") if g != "(no genres listed)"]
            out.contents.append(
                Content(
                    content_id=f"m{row['movieId']}",
                    title=row["title"][:500],
                    category=genres[0] if genres else "unknown",
                    description=f"{row['title']} ({', '.join(genres)})",
                    tags=tuple(genres + tags.get(row["movieId"], []))[:50],
                )
            )
    with (path / "ratings.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.interactions.append(
                _rating_event(
                    settings,
                    "mlsmall",
                    row["userId"],
                    row["movieId"],
                    float(row["rating"]),
                    float(row["timestamp"]),
                )
            )
    return out


def chunked(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
