"""Writing items and interactions to the store in bulk, a chunk at a time, with progress.

Imports and the demo seed both come through here: items by upsert, interactions by the
store's bulk loader (no outbox; stats folded once at the end; repeats skipped by event id).
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TextIO, TypeVar

from contextiq.config import Settings
from contextiq.data.files import BadRow, read_content, read_interactions
from contextiq.domain import Content, Interaction
from contextiq.progress import Tracker
from contextiq.store.bulk import BulkLoader
from contextiq.store.store import Store

#: Rows per transaction: large enough that index pages are written a few times, not thousands.
INTERACTION_CHUNK = 100_000
CONTENT_CHUNK = 5_000
T = TypeVar("T")


@dataclass(slots=True)
class LoadCounts:
    items: int = 0
    imported: int = 0
    duplicates: int = 0


async def load_items(
    store: Store, batches: Iterable[Sequence[Content]], tracker: Tracker, counts: LoadCounts
) -> None:
    for batch in batches:
        counts.items += await store.upsert_content(list({c.content_id: c for c in batch}.values()))
        tracker.advance(len(batch))


async def load_interactions(
    loader: BulkLoader,
    batches: Iterable[Sequence[Interaction]],
    tracker: Tracker,
    counts: LoadCounts,
) -> None:
    for batch in batches:
        new = await loader.add(batch)
        counts.imported += new
        counts.duplicates += len(batch) - new
        tracker.advance(len(batch))


class StrictStop(Exception):
    """`--strict`: the import stopped at this bad row (rows before it were imported)."""

    def __init__(self, bad: BadRow) -> None:
        super().__init__(str(bad))
        self.bad = bad


class BadRows:
    """Where bad rows go: counted, the first few shown, all of them written to `rejects`."""

    def __init__(
        self, strict: bool, show: Callable[[str], None], rejects: TextIO | None, shown: int = 20
    ) -> None:
        self.strict, self.show, self.rejects, self.shown = strict, show, rejects, shown
        self.count = 0

    def __call__(self, bad: BadRow) -> None:
        self.count += 1
        if self.rejects is not None:
            self.rejects.write(f"{bad}\n")
        if self.strict:
            raise StrictStop(bad)
        if self.count <= self.shown:
            self.show(f"skipped {bad}")
        elif self.count == self.shown + 1:
            self.show(
                "… more bad rows are counted, not shown"
                + ("" if self.rejects is None else " (all of them are in the rejects file)")
            )


def _chunks(rows: Iterator[T], size: int) -> Iterator[list[T]]:
    while chunk := list(islice(rows, size)):
        yield chunk


async def import_content_file(
    store: Store, path: Path, bad_rows: BadRows, tracker: Tracker, counts: LoadCounts
) -> None:
    for chunk in _chunks(read_content(path), CONTENT_CHUNK):
        good: list[Content] = []
        try:
            for _, item in chunk:
                if isinstance(item, BadRow):
                    bad_rows(item)
                else:
                    good.append(item)
        finally:  # under --strict, the rows before the bad one still go in
            await load_items(store, [good], tracker, counts)
            tracker.advance(len(chunk) - len(good))


async def import_interactions_file(
    store: Store,
    path: Path,
    settings: Settings,
    bad_rows: BadRows,
    tracker: Tracker,
    counts: LoadCounts,
) -> None:
    """Interactions with an unknown item are bad rows, as in the API."""
    known: set[str] = set()
    async with store.bulk_loader() as loader:
        for chunk in _chunks(read_interactions(path, settings), INTERACTION_CHUNK):
            unseen = {i.content_id for _, i in chunk if isinstance(i, Interaction)} - known
            known |= await store.existing_content_ids(list(unseen))
            good: list[Interaction] = []
            try:
                for line, item in chunk:
                    if isinstance(item, BadRow):
                        bad_rows(item)
                    elif item.content_id not in known:
                        bad_rows(BadRow(path, line, f"content {item.content_id!r} does not exist"))
                    else:
                        good.append(item)
            finally:
                await load_interactions(loader, [good], tracker, counts)
                tracker.advance(len(chunk) - len(good))
