"""`contextiq import`: generic files streamed in chunks, MovieLens datasets, with progress."""

import asyncio
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from contextiq.cli.bootstrap import Say, compute_vectors
from contextiq.config import Settings
from contextiq.data.files import UnreadableFile
from contextiq.data.importers import Imported, chunked
from contextiq.data.load import (
    CONTENT_CHUNK,
    INTERACTION_CHUNK,
    BadRows,
    LoadCounts,
    StrictStop,
    catalogue_writer,
    finishing,
    import_content_file,
    import_interactions_file,
    load_interactions,
    load_items,
)
from contextiq.private_files import open_private
from contextiq.progress import track
from contextiq.store.store import Store

#: What an interrupted import keeps, and why running it again is safe (rows are keyed by event id).
_RERUN = "the rows written so far are kept; run the same command again to add the rest"


def summary(counts: LoadCounts, skipped: int, seconds: float) -> str:
    return (
        f"    {counts.items} items, {counts.imported} new interactions "
        f"({counts.duplicates} already there), {skipped} bad rows skipped, in {seconds:.1f}s"
    )


async def import_files(
    settings: Settings,
    say: Say,
    content: Path | None,
    interactions: Path | None,
    strict: bool = False,
    rejects: Path | None = None,
    vectors: bool = True,
    vector_seconds: float | None = None,
) -> bool:
    """Import the files, then compute item vectors (`vectors`, for `local://`).

    Vectors take about 17-27 ms of CPU per item, 30-45 CPU-minutes for 100,000 items, so
    `vector_seconds` bounds them: the most popular items first, the rest completed by the
    worker in the background (or `contextiq vectors`). False when `strict` stopped at a bad
    row (reported through `say`).
    """
    store = Store(settings.database_url)
    try:
        if not await _import(store, settings, say, content, interactions, strict, rejects):
            return False
        if vectors and content is not None:
            await compute_vectors(store, settings, say, vector_seconds)
        return True
    finally:
        await store.close()


async def _import(
    store: Store,
    settings: Settings,
    say: Say,
    content: Path | None,
    interactions: Path | None,
    strict: bool,
    rejects: Path | None,
) -> bool:
    started = time.perf_counter()
    counts = LoadCounts()

    def show(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    async with catalogue_writer(store, settings) as catalog:
        with ExitStack() as files:
            sink = files.enter_context(open_private(rejects)) if rejects else None
            bad_rows = BadRows(strict, show, sink)
            try:
                if content is not None:
                    await import_content_file(catalog, content, bad_rows, track, counts)
                if interactions is not None:
                    await import_interactions_file(
                        store, interactions, settings, bad_rows, track, counts, catalog.rec_cache
                    )
            except StrictStop as stop:
                say(f"error: {stop.bad} (--strict: stopped; the rows before it were imported)")
                say(summary(counts, 0, time.perf_counter() - started))
                return False
            except asyncio.CancelledError:  # Ctrl-C: `asyncio.run` cancels the import
                say(f"interrupted: {_RERUN}")
                say(summary(counts, bad_rows.count, time.perf_counter() - started))
                raise
            except UnreadableFile as unreadable:
                name = unreadable.bad.path.name
                say(f"error: {unreadable.bad} (nothing in {name} was imported)")
                say(summary(counts, bad_rows.count, time.perf_counter() - started))
                return False
    say(summary(counts, bad_rows.count, time.perf_counter() - started))
    if rejects is not None and bad_rows.count:
        say(f"    bad rows with their line numbers and reasons: {rejects}")
    return True


async def load(store: Store, settings: Settings, data: Imported, say: Say) -> None:
    """A dataset read into memory (MovieLens), written through the same bulk path."""
    started = time.perf_counter()
    counts = LoadCounts()
    async with catalogue_writer(store, settings) as catalog:
        with track(len(data.contents), "items") as bar:
            await load_items(catalog, chunked(data.contents, CONTENT_CHUNK), bar, counts)
        async with store.bulk_loader(finishing=finishing(track)) as loader:
            with track(len(data.interactions), "interactions") as bar:
                await load_interactions(
                    loader,
                    chunked(data.interactions, INTERACTION_CHUNK),
                    bar,
                    counts,
                    catalog.rec_cache,
                )
    say(summary(counts, 0, time.perf_counter() - started))
