"""MovieLens files, read in one place for the importer, the offline evaluator and benchmarks.

Records keep what the files say (genre names as spelled there, raw tags, integer timestamps);
each caller shapes them its own way: catalogue items, training interactions, LLM candidates.
Both releases the project uses are covered: ML-100K (`u.item`, `u.data`) and ML latest-small
(`movies.csv`, `ratings.csv`, `tags.csv`).
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: ML-100K's genre flags, in `u.genre` order.
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_NO_GENRES = "(no genres listed)"


@dataclass(frozen=True, slots=True)
class Movie:
    movie_id: str
    title: str
    #: As the files spell them; latest-small's "(no genres listed)" becomes no genre.
    genres: tuple[str, ...]
    release_date: str = ""
    imdb_url: str = ""


@dataclass(frozen=True, slots=True)
class Rating:
    user_id: str
    movie_id: str
    rating: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class Tag:
    user_id: str
    movie_id: str
    tag: str


def ml100k_movies(root: Path) -> Iterator[Movie]:
    with (root / "u.item").open(encoding="latin-1") as f:
        for line in f:
            fields = line.rstrip("\n").split("|")
            if len(fields) < 5 + len(ML100K_GENRES):
                continue
            flags = fields[5 : 5 + len(ML100K_GENRES)]
            genres = tuple(g for g, flag in zip(ML100K_GENRES, flags, strict=True) if flag == "1")
            yield Movie(fields[0], fields[1], genres, release_date=fields[2], imdb_url=fields[4])


def ml100k_ratings(root: Path) -> Iterator[Rating]:
    with (root / "u.data").open(encoding="ascii") as f:
        for line in f:
            user, movie, rating, stamp = line.split("\t")
            yield Rating(user, movie, float(rating), int(stamp))


def latest_movies(root: Path) -> Iterator[Movie]:
    with (root / "movies.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            genres = tuple(g for g in row["genres"].split("|") if g != _NO_GENRES)
            yield Movie(row["movieId"], row["title"], genres)


def latest_ratings(root: Path) -> Iterator[Rating]:
    with (root / "ratings.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield Rating(row["userId"], row["movieId"], float(row["rating"]), int(row["timestamp"]))


def latest_tags(root: Path) -> Iterator[Tag]:
    with (root / "tags.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield Tag(row["userId"], row["movieId"], row["tag"])
