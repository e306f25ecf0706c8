"""Loaders for the public benchmark datasets and plain CSV files."""

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from contextiq.csv_separators import other_separator
from contextiq.ml import movielens
from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.progress import ReadPosition, Tracker

log = logging.getLogger(__name__)

DatasetFormat = Literal["ml-100k", "ml-latest-small", "lastfm", "csv"]
#: How often a CSV's reader reports its position: each report asks the system where the file
#: is, and the text layer reads 8 KiB (a few hundred rows) at a time anyway.
SHOW_EVERY_ROWS = 1_000


@dataclass(frozen=True)
class Dataset:
    interactions: list[WeightedInteraction]
    items: list[ItemFeatures]
    has_ratings: bool
    has_timestamps: bool


def _item(movie: movielens.Movie) -> ItemFeatures:
    genres = movie.genres
    return ItemFeatures(movie.movie_id, movie.title, genres[0] if genres else "", genres)


def _interaction(rating: movielens.Rating) -> WeightedInteraction:
    return WeightedInteraction(
        rating.user_id, rating.movie_id, rating.rating, float(rating.timestamp)
    )


def load_ml100k(root: Path) -> Dataset:
    interactions = [_interaction(r) for r in movielens.ml100k_ratings(root)]
    items = [_item(m) for m in movielens.ml100k_movies(root)]
    return Dataset(interactions, items, has_ratings=True, has_timestamps=True)


def load_ml_latest_small(root: Path) -> Dataset:
    interactions = [_interaction(r) for r in movielens.latest_ratings(root)]
    items = [_item(m) for m in movielens.latest_movies(root)]
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


def _finite(value: float, text: str) -> float:
    """`value` (read from `text`), refusing `nan` and `inf`: `float` reads both, and one
    poisons a whole fit."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def parse_timestamp(text: str) -> float:
    """Unix seconds (`881250949`, `881250949.5`) or ISO 8601 (`2024-05-01T12:00:00Z`), as seconds.

    ISO times without a zone are read as UTC; `t` and `z` may be lower case (RFC 3339).
    """
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return _finite(seconds, text)
    try:
        moment = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise ValueError(f"not Unix seconds or ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _csv_rows(f: TextIO, path: Path) -> "csv.DictReader[str]":
    """Rows by column name, the header's names stripped (`user_id, item_id` is common) and in
    lower case (`User_ID`), as `contextiq import` reads its columns."""
    reader = csv.DictReader(f)
    if reader.fieldnames is not None:
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
        if (reason := other_separator(reader.fieldnames)) is not None:
            raise ValueError(f"{path}: {reason}")
    return reader


def _id(text: str | None) -> str:
    """An id as the users file gives it (stripped): `u ` and `u` are one user, not two."""
    return (text or "").strip()


#: The columns an interactions CSV is read for.
INTERACTION_COLUMNS = ("user_id", "item_id", "weight", "timestamp")


def _name_unread(path: Path, names: Sequence[str]) -> None:
    """Say which columns are not read: a `rating` column meant as the weight would leave every
    event counting 1 without a word."""
    unread = [name for name in names if name not in INTERACTION_COLUMNS]
    if unread:
        weightless = "" if "weight" in names else "; without a weight column every event counts 1"
        log.warning(
            "%s: columns not read: %s (read: %s)%s",
            path,
            ", ".join(unread),
            ", ".join(INTERACTION_COLUMNS),
            weightless,
        )


def read_interactions_csv(path: Path, progress: Tracker | None = None) -> list[WeightedInteraction]:
    """`user_id,item_id[,weight][,timestamp]` with a header; see `parse_timestamp` for times.

    Without a weight every event counts 1 (implicit feedback). Files may start with the
    byte-order mark spreadsheet exports write; spaces around names and values are dropped.
    `progress` counts the bytes read (`BYTES`, to the file's size), so the file is read once.
    """
    events = []
    position = ReadPosition(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        position.reading(f)
        reader = _csv_rows(f, path)
        _name_unread(path, reader.fieldnames or [])
        for n, r in enumerate(reader):
            if progress and n % SHOW_EVERY_ROWS == 0:
                position.show(progress)
            try:
                user, item = _id(r["user_id"]), _id(r["item_id"])
                if not user or not item:
                    raise ValueError("no user_id or no item_id")
                for text in (user, item):
                    if "\n" in text or "\r" in text:  # else the rest of the file is one id
                        lines = len(text.splitlines())
                        raise ValueError(
                            f"an id over {lines} lines (a quote left open?): {text[:30]!r}"
                        )
                # spaces alone are an empty field in a padded file (`u, a,  , `)
                weight, stamp = (r.get("weight") or "").strip(), (r.get("timestamp") or "").strip()
                events.append(
                    WeightedInteraction(
                        user,
                        item,
                        _finite(float(weight), weight) if weight else 1.0,
                        parse_timestamp(stamp) if stamp else None,
                    )
                )
            except KeyError as error:
                raise ValueError(f"{path}: missing column {error}") from None
            except ValueError as error:
                # the line the row ends on: blank lines and quoted line breaks count
                raise ValueError(f"{path}, line {reader.line_num}: {error}") from None
    if progress:
        position.show(progress)
    return events


def read_items_csv(path: Path) -> list[ItemFeatures]:
    """`item_id,title,category,tags,text` with a header; tags separated by `|` or `;`.

    A row without an id is refused with its line, as in `read_interactions_csv`: it would
    be an item "" that lists recommend.
    """
    items = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = _csv_rows(f, path)
        for r in reader:
            try:
                item = _id(r["item_id"])
            except KeyError as error:
                raise ValueError(f"{path}: missing column {error}") from None
            if not item:
                raise ValueError(f"{path}, line {reader.line_num}: no item_id")
            items.append(
                ItemFeatures(
                    item,
                    r.get("title") or "",
                    r.get("category") or "",
                    tuple(t for t in (r.get("tags") or "").replace(";", "|").split("|") if t),
                    r.get("text") or "",
                )
            )
    return items


def load_dataset(path: Path, fmt: DatasetFormat, progress: Tracker | None = None) -> Dataset:
    """A public dataset's folder, or a CSV file (`progress` in bytes, `read_interactions_csv`)."""
    if fmt == "ml-100k":
        return load_ml100k(path)
    if fmt == "ml-latest-small":
        return load_ml_latest_small(path)
    if fmt == "lastfm":
        return load_lastfm(path)
    interactions = read_interactions_csv(path, progress)
    items_path = path.with_name("items.csv")
    items = read_items_csv(items_path) if items_path.exists() else []
    return Dataset(
        interactions,
        items,
        has_ratings=False,
        has_timestamps=all(i.timestamp is not None for i in interactions),
    )
