"""Loaders for the public benchmark datasets and plain CSV files."""

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from contextiq.ml.base import ItemFeatures, WeightedInteraction

DatasetFormat = Literal["ml-100k", "ml-latest-small", "lastfm", "csv"]

_ML100K_GENRES = [
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
]


@dataclass(frozen=True)
class Dataset:
    interactions: list[WeightedInteraction]
    items: list[ItemFeatures]
    has_ratings: bool
    has_timestamps: bool


def load_ml100k(root: Path) -> Dataset:
    interactions = []
    for line in (root / "u.data").read_text().splitlines():
        user, item, rating, stamp = line.split("\t")
        interactions.append(WeightedInteraction(user, item, float(rating), float(stamp)))
    items = []
    for line in (root / "u.item").read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        genres = tuple(
            g for g, flag in zip(_ML100K_GENRES, fields[5:], strict=False) if flag == "1"
        )
        items.append(ItemFeatures(fields[0], fields[1], genres[0] if genres else "", genres))
    return Dataset(interactions, items, has_ratings=True, has_timestamps=True)


def load_ml_latest_small(root: Path) -> Dataset:
    with (root / "ratings.csv").open(newline="", encoding="utf-8") as f:
        interactions = [
            WeightedInteraction(
                r["userId"], r["movieId"], float(r["rating"]), float(r["timestamp"])
            )
            for r in csv.DictReader(f)
        ]
    with (root / "movies.csv").open(newline="", encoding="utf-8") as f:
        items = []
        for r in csv.DictReader(f):
            genres = tuple(g for g in r["genres"].split("|") if g != "(no genres listed)")
            items.append(
                ItemFeatures(r["movieId"], r["title"], genres[0] if genres else "", genres)
            )
    return Dataset(interactions, items, has_ratings=True, has_timestamps=True)


def load_lastfm(root: Path) -> Dataset:
    lines = (root / "user_artists.dat").read_text().splitlines()[1:]
    interactions = []
    for line in lines:
        user, artist, count = line.split("\t")
        interactions.append(WeightedInteraction(user, artist, float(count)))
    items = []
    for line in (root / "artists.dat").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        items.append(ItemFeatures(fields[0], title=fields[1] if len(fields) > 1 else ""))
    return Dataset(interactions, items, has_ratings=False, has_timestamps=False)


def read_interactions_csv(path: Path) -> list[WeightedInteraction]:
    """`user_id,item_id,weight[,timestamp]` with a header."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            WeightedInteraction(
                r["user_id"],
                r["item_id"],
                float(r["weight"]),
                float(r["timestamp"]) if r.get("timestamp") else None,
            )
            for r in csv.DictReader(f)
        ]


def read_items_csv(path: Path) -> list[ItemFeatures]:
    """`item_id,title,category,tags,text` with a header; tags separated by `|` or `;`."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            ItemFeatures(
                r["item_id"],
                r.get("title") or "",
                r.get("category") or "",
                tuple(t for t in (r.get("tags") or "").replace(";", "|").split("|") if t),
                r.get("text") or "",
            )
            for r in csv.DictReader(f)
        ]


def load_dataset(path: Path, fmt: DatasetFormat) -> Dataset:
    if fmt == "ml-100k":
        return load_ml100k(path)
    if fmt == "ml-latest-small":
        return load_ml_latest_small(path)
    if fmt == "lastfm":
        return load_lastfm(path)
    interactions = read_interactions_csv(path)
    items_path = path.with_name("items.csv")
    items = read_items_csv(items_path) if items_path.exists() else []
    return Dataset(
        interactions,
        items,
        has_ratings=False,
        has_timestamps=all(i.timestamp is not None for i in interactions),
    )
