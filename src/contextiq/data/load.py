"""Writing items and interactions to the store in bulk, a chunk at a time, with progress.

Imports and the demo seed both come through here: items through `CatalogService.upsert`, as
`PUT /content` writes them (so the shared catalogue generation moves and running servers
re-read the catalogue), interactions by the store's bulk loader (no outbox; stats folded once
at the end; repeats skipped by event id), after which their users' cached lists are
invalidated, as after `POST /interactions/batch`.
"""

import asyncio
import os
import time
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
from contextiq.heap import building
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


#: Rows parsed and written at a time: what an import holds in memory per chunk.
INTERACTION_CHUNK = 100_000
#: Rows per transaction: each commit writes out nearly every page of the event-id index, whose
#: keys are random, so five chunks per commit write far less (an import of 5,000,000 rows on
#: SQLite: 6.4-6.6 GB instead of 15.5 GB, docs/benchmarks.md).
ROWS_PER_COMMIT = 500_000
#: ...or fewer, once a transaction has been open this long: on SQLite it holds the write lock,
#: and a live writer (`POST /interact`, the worker) waits at most 30 s for it; on a slow host
#: five chunks take 15 s.
SECONDS_PER_COMMIT = 8.0
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


class Transactions:
    """Chunks added to one transaction until it holds `rows_per_commit` rows or has been open
    `seconds_per_commit`, then committed.

    Only what is committed is counted, and then, as after `POST /interactions/batch`, the
    cached lists of its users go (the loader does not say whose rows were the new ones): a
    list cached before the commit would otherwise outlive it. Use as an async context manager,
    which commits the rest on the way out, also on Ctrl-C or `--strict`'s stop.
    """

    def __init__(
        self,
        loader: BulkLoader,
        counts: LoadCounts,
        rec_cache: RecommendationCache,
        rows_per_commit: int = ROWS_PER_COMMIT,
        seconds_per_commit: float = SECONDS_PER_COMMIT,
    ) -> None:
        self.loader, self.counts, self.rec_cache = loader, counts, rec_cache
        self.rows_per_commit, self.seconds_per_commit = rows_per_commit, seconds_per_commit
        self._rows = self._new = 0
        self._users: set[str] = set()
        self._opened_at = 0.0

    async def __aenter__(self) -> "Transactions":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.commit()

    async def add(self, rows: Sequence[Row]) -> None:
        if not rows:  # a chunk of bad rows only: no transaction to open
            return
        if not self._rows:
            self._opened_at = time.monotonic()
        try:
            new = await self.loader.add(rows)
        except BaseException:  # the loader rolled the transaction back: nothing to count
            self._rows = self._new = 0
            self._users.clear()
            raise
        self._rows += len(rows)
        self._new += new
        self._users.update(row[USER_ID] for row in rows)
        open_for = time.monotonic() - self._opened_at
        if self._rows >= self.rows_per_commit or open_for >= self.seconds_per_commit:
            await self.commit()

    async def commit(self) -> None:
        if not self._rows:
            return
        rows, new, users = self._rows, self._new, self._users
        self._rows = self._new = 0
        self._users = set()
        await self.loader.commit()  # a failed commit is rolled back: none of it is counted
        self.counts.imported += new
        self.counts.duplicates += rows - new
        if new:
            await self.rec_cache.invalidate_users(users)


async def load_interactions(
    loader: BulkLoader,
    batches: Iterable[Sequence[Interaction]],
    tracker: Tracker,
    counts: LoadCounts,
    rec_cache: RecommendationCache,
) -> None:
    async with Transactions(loader, counts, rec_cache) as transactions:
        for batch in batches:
            await transactions.add(interaction_rows(batch, loader.time_form))
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

    async def write(transactions: Transactions, good: list[Row], read_to: int) -> None:
        nonlocal shown
        await transactions.add(good)
        rows.advance(read_to - shown)
        shown = read_to

    # The rows' display closes before the last commit and the loader's last steps. No full
    # collection while chunks pass through: each walked every chunk in flight.
    async with (
        store.bulk_loader(finishing=finishing(progress)) as loader,
        Transactions(loader, counts, rec_cache) as transactions,
    ):
        with rows, building():
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
                            writing = asyncio.create_task(write(transactions, good, read_to))
            finally:
                if writing is not None:
                    await writing
            rows.advance(size - shown)  # the reader's last position may stop short of the end
