"""Offline commands: batch fit-predict on CSV files, and evaluation on public datasets.

The lead registers them in the main CLI:
`app.add_typer(offline_app, name="offline")` and `app.command("evaluate")(evaluate)`. Every
`contextiq` command loads this module, so the model code (PyTorch: a second and about 200 MB)
is imported by the commands that fit, not here.
"""

import csv
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, TextIO, TypeVar

import typer

from contextiq.config import DEFAULT_MODEL, get_settings
from contextiq.ml.base import WeightedInteraction
from contextiq.ml.datasets import (
    Dataset,
    DatasetFormat,
    load_dataset,
    read_interactions_csv,
    read_items_csv,
)
from contextiq.ml.metrics import mae, rmse
from contextiq.ml.protocols import leave_last_out, random_split, stratified_split
from contextiq.observability.logs import configure_logging
from contextiq.private_files import open_private
from contextiq.progress import BYTES, Tracker, track

offline_app = typer.Typer(no_args_is_help=True)
T = TypeVar("T")
#: Scores `fit-predict` holds at once (users x items, `Recommender.recommend_histories`): at
#: 20,000 items 100 users at a time took half the time of one at a time; at 100,000 items 256
#: took longer than one at a time, 20 a quarter less (benchmarks.md, "Offline fit-predict at
#: catalogue scale").
BATCH_SCORES = 2_000_000


@offline_app.callback()
def offline() -> None:
    """Batch jobs on files, without the service."""


class Format(StrEnum):
    ML_100K = "ml-100k"
    ML_LATEST_SMALL = "ml-latest-small"
    LASTFM = "lastfm"
    CSV = "csv"


def _family(name: str) -> str:
    """An unknown family stops the command before any file is read, listing the known ones."""
    from contextiq.ml.families import known_family

    try:
        known_family(name)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return name


def _output_file(path: Path) -> Path:
    """A path the lists can be written to, checked before the fit rather than after it."""
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder, not a file")
    if not path.parent.is_dir():
        raise typer.BadParameter(f"no folder {path.parent} to write {path.name} in")
    return path


ModelOption = Annotated[
    str,
    typer.Option(
        help="model family, as CONTEXTIQ_MODEL names it; blend-next: chosen for each user's"
        " next event rather than their broader taste (docs/evaluation.md)",
        callback=_family,
    ),
]


class Protocol(StrEnum):
    STRATIFIED = "stratified"
    LEAVE_LAST_OUT = "leave-last-out"
    RATING = "rating"


@offline_app.command("fit-predict")
def fit_predict(
    interactions: Annotated[
        Path,
        typer.Option(
            help="CSV: user_id,item_id[,weight][,timestamp]; weight 1 when absent; timestamp in"
            " Unix seconds or ISO 8601 (UTC unless it says otherwise). With timestamps on every"
            " row the model reads each history in time order (recency, item transitions)."
        ),
    ],
    users: Annotated[
        Path,
        typer.Option(
            help="one user id per line, a one-column CSV (quotes read as CSV reads them; a first"
            " line named like a user column, `user_id` or `userId` in any case, is a header); a"
            " repeated id gets one list"
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            help="CSV written: user_id,item_id,rank,score; appears only once whole. A user"
            " with rows for all but fewer than k items gets only those (it says how many)",
            callback=_output_file,
        ),
    ],
    k: Annotated[int, typer.Option(min=1)] = 10,
    items: Annotated[
        Path | None, typer.Option(help="CSV: item_id,title,category,tags,text")
    ] = None,
    seed: int = 0,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Train a model (the default blend) on `interactions`; write each user's top k unseen items
    (a user without rows: the items most users have rows for).

    An optional `timestamp` column (Unix seconds or ISO 8601) puts each user's events in time
    order; without it, events keep the file's order and the model ignores order altogether.
    """
    from contextiq.ml.evaluate import histories_by_user
    from contextiq.ml.families import make_model

    configure_logging(get_settings())  # the fit's stages: a large catalogue trains for minutes
    events = _read("--interactions", _events, interactions)
    if not events:
        raise typer.BadParameter(f"{interactions} has no events", param_hint="--interactions")
    untimed = sum(e.timestamp is None for e in events)
    if 0 < untimed < len(events):
        typer.echo(
            f"warning: {untimed:,} of {len(events):,} events have no timestamp,"
            " so the model ignores time order",
            err=True,
        )
    features = _read("--items", read_items_csv, items) if items else []
    listed = _without_header(_read("--users", _user_ids, users), events)
    if not listed:  # before the fit: minutes on a large file, for an empty output
        raise typer.BadParameter(f"{users} lists no user ids", param_hint="--users")
    wanted = list(dict.fromkeys(listed))
    if len(wanted) < len(listed):
        typer.echo(
            f"warning: {len(listed) - len(wanted):,} repeated user ids in {users};"
            " each user gets one list",
            err=True,
        )
    fitted = make_model(model, seed).fit(events, features)
    histories = histories_by_user(events)
    ids = fitted.item_ids
    popular = _most_popular(histories, ids, k)
    with (
        _replacing(output) as f,
        track(len(wanted), f"top-{k} lists", unit="users") as bar,
    ):
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "rank", "score"])
        size = min(256, max(8, BATCH_SCORES // max(len(ids), 1)))
        lengths = []
        for first in range(0, len(wanted), size):
            batch = wanted[first : first + size]
            found, scores = fitted.recommend_histories([histories.get(u, {}) for u in batch], k)
            for user, indices, values in zip(batch, found.tolist(), scores.tolist(), strict=True):
                ranked = popular if user not in histories else zip(indices, values, strict=True)
                rows = [
                    [user, ids[j], rank, f"{score:.6g}"]
                    for rank, (j, score) in enumerate(ranked, start=1)
                    if j >= 0
                ]
                writer.writerows(rows)
                lengths.append(len(rows))
            bar.advance(len(batch))
    if short := sum(n < k for n in lengths):
        empty = lengths.count(0)
        none = f", {empty:,} of them none (so absent from {output.name})" if empty else ""
        typer.echo(
            f"warning: {short:,} of {len(wanted):,} users got fewer than {k} items{none}:"
            " no list holds an item its user has a row for",
            err=True,
        )
    typer.echo(f"wrote top-{k} for {len(wanted)} users to {output}")


def _most_popular(
    histories: dict[str, dict[str, float]], ids: Sequence[str], k: int
) -> list[tuple[int, float]]:
    """A user without rows gets the items most users have rows for (ties in the model's
    order), scored by that share, as the service answers such a user: a model scoring from
    history alone (EASE) gives every item the same score, in no order that means anything."""
    users = Counter(item for history in histories.values() for item in history)
    held = (j for j, item in enumerate(ids) if item in users)
    ranked = sorted(held, key=lambda j: -users[ids[j]])  # stable: ties keep the model's order
    return [(j, users[ids[j]] / len(histories)) for j in ranked[:k]]


@contextmanager
def _replacing(path: Path) -> Iterator[TextIO]:
    """A file that becomes `path` only once all of it is written: a run that fails part way
    leaves no half list a checker could read as the answer (and any older file as it was)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: a rename, not a copy
    try:
        with open_private(tmp, newline="") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _reading(path: Path) -> Tracker:
    """Progress in bytes read (`read_interactions_csv`): no pass over the file to count lines."""
    return track(path.stat().st_size, f"reading {path.name}", BYTES)


def _events(path: Path) -> list[WeightedInteraction]:
    with _reading(path) as bar:
        return read_interactions_csv(path, bar)


def _dataset(kind: DatasetFormat, path: Path) -> Dataset:
    if kind != "csv":  # the public datasets: seconds to read
        return load_dataset(path, kind)
    with _reading(path) as bar:
        return load_dataset(path, kind, bar)


def _ranking(users: int) -> Tracker:
    return track(users, "ranking test users", unit="users")


def _user_ids(path: Path) -> list[str]:
    """The ids of a one-column CSV, read as the interactions file is (quotes, spaces around
    ids), header included (`_without_header`)."""
    ids = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        for row in reader:
            if len(row) > 1:
                raise ValueError(
                    f"{path}, line {reader.line_num}: {len(row)} fields,"
                    " where a line holds one user id"
                )
            if row and (user := row[0].strip()):
                ids.append(user)
    return ids


#: A users file's first line read as its header, once lower-cased and stripped of all but
#: letters: `user_id`, `userId`, `User ID`, `user`, `id` (exports name the column many ways).
_USER_HEADERS = frozenset({"userid", "user", "users", "id"})


def _without_header(listed: list[str], events: Sequence[WeightedInteraction]) -> list[str]:
    """The listed users without a header line: a first line named like a user column is a
    header unless a user of that id has rows (a list for `userId` would be the popular items)."""
    first = listed[0] if listed else ""
    if re.sub("[^a-z]", "", first.lower()) not in _USER_HEADERS:
        return listed
    return listed if any(e.user_id == first for e in events) else listed[1:]


def _read(option: str, read: Callable[[Path], T], path: Path) -> T:
    """A file's rows, or a one-line usage error naming the option, the file and the line."""
    try:
        return read(path)
    except UnicodeDecodeError as error:  # the codec's message names neither file nor fix
        byte = error.object[error.start]
        reason = f"{path}: not UTF-8 (byte 0x{byte:02x}): re-export it as UTF-8"
        raise typer.BadParameter(reason, param_hint=option) from None
    except (OSError, ValueError) as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


def _held_out(test: list[WeightedInteraction], dataset: Path, protocol: Protocol) -> None:
    """Stop on a split with nothing to test: its metrics would read 0 (or NaN, not JSON)."""
    if not test:
        raise typer.BadParameter(
            f"{dataset}: the {protocol.value} split holds out no events to test on"
            " (too few events, or every user has just one)",
            param_hint="--dataset",
        )


def evaluate(
    dataset: Annotated[
        Path,
        typer.Option(
            help="dataset folder, or for --format csv a CSV file as fit-predict's --interactions"
            " (weights as given), with an items.csv beside it read as fit-predict's --items"
        ),
    ],
    fmt: Annotated[Format, typer.Option("--format")] = Format.CSV,
    protocol: Annotated[
        Protocol,
        typer.Option(
            help="how the split is made (docs/evaluation.md); rating predicts the held-out"
            " weights with the rating model (AutoRec), whatever --model or --diversity say"
        ),
    ] = Protocol.STRATIFIED,
    seed: int = 42,
    diversity: Annotated[
        list[float] | None,
        typer.Option(
            help="also re-rank by MMR at this diversity (a model with item embeddings); repeatable",
            min=0.0,
            max=1.0,
        ),
    ] = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Split a dataset by a protocol, train a model (the default blend) and print its metrics.

    Ranking metrics of a model with item embeddings (not `ease`, `sequence`, or a blend whose
    mix leaves its embedding out) come with intra-list diversity (`ild@10`) and catalogue
    coverage (`coverage@10`); each `--diversity` adds the metrics of its lists re-ranked at
    that setting.
    """
    from contextiq.ml.autorec import AutoRecConfig, AutoRecRating
    from contextiq.ml.evaluate import evaluate_ranking
    from contextiq.ml.families import make_model

    configure_logging(get_settings())  # the fit's stages: a large catalogue trains for minutes
    data = _read("--dataset", partial(_dataset, fmt.value), dataset)
    if protocol is Protocol.RATING:
        train, test = random_split(data.interactions, 0.2, seed)
        _held_out(test, dataset, protocol)
        if len(weights := {e.weight for e in data.interactions}) == 1:
            raise typer.BadParameter(
                f"{dataset}: every weight is {weights.pop():g}: there are no ratings to predict"
                " (give them in a weight column)",
                param_hint="--protocol",
            )
        predicted = (
            AutoRecRating(AutoRecConfig(seed=seed))
            .fit(train)
            .predict([(e.user_id, e.item_id) for e in test])
        )
        actual = [e.weight for e in test]
        metrics = {"rmse": rmse(predicted, actual), "mae": mae(predicted, actual)}
    else:
        events = data.interactions
        if data.has_ratings:
            events = [WeightedInteraction(e.user_id, e.item_id, 1.0, e.timestamp) for e in events]
        if protocol is Protocol.STRATIFIED:
            train, test = stratified_split(events, 0.25, seed)
        else:
            train, test = leave_last_out(events, seed)
        _held_out(test, dataset, protocol)
        fitted = make_model(model, seed).fit(train, data.items)
        metrics = evaluate_ranking(fitted, train, test, variety=True, progress=_ranking)
        metrics["accuracy"] = metrics["auc"]
        if diversity and fitted.item_vectors([]) is None:  # MMR compares item embeddings
            typer.echo(
                f"warning: the {model} fitted has no item embeddings to re-rank by (ease and"
                " sequence have none; a blend has none when its mix leaves the embedding out),"
                " so no --diversity metrics",
                err=True,
            )
        else:
            for d in diversity or ():
                again = evaluate_ranking(
                    fitted, train, test, diversity=d, variety=True, progress=_ranking
                )
                metrics |= {f"{name} (diversity {d:g})": v for name, v in again.items()}
    typer.echo(json.dumps({k: round(v, 4) for k, v in metrics.items()}, indent=2))
