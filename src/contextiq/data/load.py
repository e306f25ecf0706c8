"""Writing items and interactions to the store in bulk, a chunk at a time, with progress.

Imports and the demo seed both come through here: items through `CatalogService.upsert`, as
`PUT /content` writes them (so the shared catalogue generation moves and running servers
re-read the catalogue), interactions by the store's bulk loader (no outbox; stats folded once
at the end; repeats skipped by event id), after which their users' cached lists are
invalidated, as after `POST /interactions/batch`.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from contextiq.cache import open_cache
from contextiq.catalog import CatalogService
from contextiq.config import Settings
from contextiq.data.files import BadRow, chunks, read_content
from contextiq.data.parsing import parsed_chunks
from contextiq.domain import Content, Interaction
from contextiq.progress import BYTES, Quiet, ReadPosition, Tracker
from contextiq.recommend.filters import FilterColumns
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.bulk import CONTENT_ID, USER_ID, BulkLoader, Row, interaction_rows
from contextiq.store.store import Store

#: Makes a display: (total or None, description, unit), as `progress.track` does.
Progress = Callable[[int | None, str, str], Tracker]


def finishing(progress: Progress) -> Callable[[int], Tracker]:
    """The display of a bulk load's last steps (`Store.bulk_loader`): about a minute at
    5,000,000 events, after the rows' own bar has closed."""
    return lambda steps: progress(steps, "profiles, popularity and indexes", "steps")


#: Rows per transaction: large enough that index pages are written a few times, not thousands.
INTERACTION_CHUNK = 100_000
CONTENT_CHUNK = 5_000


@dataclass(slots=True)
class LoadCounts:
    items: int = 0
    imported: int = 0
    duplicates: int = 0


@asynccontextmanager
async def catalogue_writer(store: Store, settings: Settings) -> AsyncIterator[CatalogService]:
    """The catalogue service of a process that serves nothing (an import, the seed), on the
    configured cache: its writes move the generation every server sharing that cache watches.

    With `memory://` the cache is this process's own, so no server learns of them before it
    restarts. Item vectors are left to the caller (`compute_vectors`), and no model is
    loaded: servers fold new items into theirs (`CatalogService.watch`).
    """
    cache = open_cache(settings.cache_url, settings.cache_max_users)
    try:
        yield CatalogService(
            store,
            ModelHolder(settings.model_dir, store, settings.ann_min_items),
            RecommendationCache(cache, settings.cache_ttl_seconds),
            FilterColumns(store),
        )
    finally:
        await cache.close()


async def load_items(
    catalog: CatalogService,
    batches: Iterable[Sequence[Content]],
    tracker: Tracker,
    counts: LoadCounts,
) -> None:
    for batch in batches:
        counts.items += await catalog.upsert(batch)
        tracker.advance(len(batch))


async def load_interactions(
    loader: BulkLoader,
    batches: Iterable[Sequence[Interaction]],
    tracker: Tracker,
    counts: LoadCounts,
    rec_cache: RecommendationCache,
) -> None:
    for batch in batches:
        await _add_rows(loader, interaction_rows(batch, loader.time_form), counts, rec_cache)
        tracker.advance(len(batch))


async def _add_rows(
    loader: BulkLoader, rows: Sequence[Row], counts: LoadCounts, rec_cache: RecommendationCache
) -> None:
    """One chunk in one transaction; then, as after `POST /interactions/batch`, the cached
    lists of the chunk's users go (the loader does not say whose rows were the new ones)."""
    new = await loader.add(rows)
    counts.imported += new
    counts.duplicates += len(rows) - new
    if new:
        await rec_cache.invalidate_users({row[USER_ID] for row in rows})


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


async def import_content_file(
    catalog: CatalogService, path: Path, bad_rows: BadRows, progress: Progress, counts: LoadCounts
) -> None:
    """Progress in bytes read, as `import_interactions_file`'s."""
    position = ReadPosition(path)
    with progress(position.size, f"items from {path.name}", BYTES) as shown:
        for chunk in chunks(read_content(path, position), CONTENT_CHUNK):
            good: list[Content] = []
            try:
                for _, item in chunk:
                    if isinstance(item, BadRow):
                        bad_rows(item)
                    else:
                        good.append(item)
            finally:  # under --strict, the rows before the bad one still go in
                await load_items(catalog, [good], Quiet(), counts)
                position.show(shown)
        position.show(shown)  # the reader closed the file: all of it


async def import_interactions_file(
    store: Store,
    path: Path,
    settings: Settings,
    bad_rows: BadRows,
    progress: Progress,
    counts: LoadCounts,
    rec_cache: RecommendationCache,
) -> None:
    """Interactions with an unknown item are bad rows, as in the API.

    The next chunks are parsed by other processes (`parsed_chunks`) while this one checks
    their items and writes the chunk before.
    """
    known: set[str] = set()
    writing: asyncio.Task[None] | None = None

    # Counted in bytes read: a line count would need a pass over the whole file first.
    size = await asyncio.to_thread(os.path.getsize, path)
    rows = progress(size, f"interactions from {path.name}", BYTES)
    shown = 0

    async def write(loader: BulkLoader, good: list[Row], read_to: int) -> None:
        nonlocal shown
        await _add_rows(loader, good, counts, rec_cache)
        rows.advance(read_to - shown)
        shown = read_to

    # The rows' display closes before the loader's last steps open theirs.
    async with store.bulk_loader(finishing=finishing(progress)) as loader:
        with rows:
            parsed = parsed_chunks(path, settings, loader.time_form, INTERACTION_CHUNK)
            try:
                async with aclosing(parsed):
                    async for chunk, read_to in parsed:
                        unseen = {r[CONTENT_ID] for _, r in chunk if not isinstance(r, BadRow)}
                        known |= await store.existing_content_ids(list(unseen - known))
                        good: list[Row] = []
                        try:
                            for line, row in chunk:
                                if isinstance(row, BadRow):
                                    bad_rows(row)
                                elif row[CONTENT_ID] not in known:
                                    reason = f"content {row[CONTENT_ID]!r} does not exist"
                                    bad_rows(BadRow(path, line, reason))
                                else:
                                    good.append(row)
                        finally:  # under --strict, the rows before the bad one still go in
                            if writing is not None:
                                await writing
                            writing = asyncio.create_task(write(loader, good, read_to))
            finally:
                if writing is not None:
                    await writing
            rows.advance(size - shown)  # the reader's last position may stop short of the end
