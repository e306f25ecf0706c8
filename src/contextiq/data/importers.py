"""Readers that turn public datasets into catalogue items and interactions (generic files:
data/files.py).

Ratings map to interaction types (5 save, 4 like, 3 view, 1-2 dislike), so imported data
goes through the same weights as live traffic.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from contextiq.config import Settings
from contextiq.domain import EPOCH, Content, Interaction, InteractionType, interaction_weight
from contextiq.ml import movielens


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
        occurred_at=EPOCH + timedelta(seconds=ts),
    )


def _category(genre: str) -> str:
    """Lower case, and ML-100K's "Children's" is latest-small's "children"."""
    return genre.lower().removesuffix("'s")


def movielens_100k(path: Path, settings: Settings) -> Imported:
    out = Imported()
    for movie in movielens.ml100k_movies(path):
        genres = [_category(g) for g in movie.genres]
        out.contents.append(
            Content(
                content_id=f"m{movie.movie_id}",
                title=movie.title,
                category=genres[0] if genres else "unknown",
                description=f"{movie.title} ({', '.join(genres)})",
                tags=tuple(genres),
                metadata={"release_date": movie.release_date, "imdb_url": movie.imdb_url},
            )
        )
    out.interactions.extend(
        _rating_event(settings, "ml100k", r.user_id, r.movie_id, r.rating, r.timestamp)
        for r in movielens.ml100k_ratings(path)
    )
    return out


def movielens_small(path: Path, settings: Settings) -> Imported:
    out = Imported()
    tags: dict[str, list[str]] = {}
    for row in movielens.latest_tags(path):
        bucket = tags.setdefault(row.movie_id, [])
        tag = row.tag.strip().lower()[:100]
        if tag and tag not in bucket and len(bucket) < 20:
            bucket.append(tag)
    for movie in movielens.latest_movies(path):
        genres = [_category(g) for g in movie.genres]
        out.contents.append(
            Content(
                content_id=f"m{movie.movie_id}",
                title=movie.title[:500],
                category=genres[0] if genres else "unknown",
                description=f"{movie.title} ({', '.join(genres)})",
                tags=tuple(genres + tags.get(movie.movie_id, []))[:50],
            )
        )
    out.interactions.extend(
        _rating_event(settings, "mlsmall", r.user_id, r.movie_id, r.rating, r.timestamp)
        for r in movielens.latest_ratings(path)
    )
    return out


def chunked(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
