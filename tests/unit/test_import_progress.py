"""An import counts its progress in bytes of the files read: each total is its file's size
from the start (no pass to count lines), and each bar ends exactly at it."""

import asyncio
from pathlib import Path

import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.data import load
from contextiq.data.load import (
    BadRows,
    LoadCounts,
    catalogue_writer,
    import_content_file,
    import_interactions_file,
)
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.conftest import embedded_settings
from tests.recorded_progress import RecordedProgress


def test_progress_is_the_files_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "INTERACTION_CHUNK", 40)  # several chunks, parsed by processes
    content = tmp_path / "content.csv"
    catalogue = [f"c{n},T{n},news" for n in range(7)]
    content.write_text("content_id,title,category\n" + "\n".join(catalogue))
    events = tmp_path / "events.csv"
    lines = [f"u{n},c{n % 7},view,2026-01-01T00:{n % 60:02d}:00Z" for n in range(300)]
    events.write_text("user_id,content_id,interaction_type,timestamp\n" + "\n".join(lines))
    displays: list[RecordedProgress] = []

    def progress(total: int | None, desc: str, unit: str) -> RecordedProgress:
        displays.append(RecordedProgress(total, desc, unit))
        return displays[-1]

    async def run() -> LoadCounts:
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
        await upgrade_async(url)
        store = Store(url)
        try:
            counts = LoadCounts()
            rec_cache = RecommendationCache(MemoryCache(), 60)
            bad = BadRows(False, print, None)
            settings = embedded_settings(tmp_path, database_url=url)
            async with catalogue_writer(store, settings) as catalog:
                await import_content_file(catalog, content, bad, progress, counts)
            await import_interactions_file(
                store, events, settings, bad, progress, counts, rec_cache
            )
            return counts
        finally:
            await store.close()

    counts = asyncio.run(run())
    assert (counts.items, counts.imported) == (7, 300)  # the summary counts are still rows
    items, item_bytes = displays[0], content.stat().st_size
    assert (items.total, items.unit, sum(items.advances)) == (item_bytes, "B", item_bytes)
    rows, size = displays[1], events.stat().st_size
    assert (rows.total, rows.unit) == (size, "B")
    assert len(rows.advances) > 1 and rows.advances[0] < size  # shown as it goes
    assert sum(rows.advances) == size
