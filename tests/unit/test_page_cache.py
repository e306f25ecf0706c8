"""One process per host keeps an SQLite file in the page cache by reading it through."""

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from contextiq.store import page_cache
from contextiq.store.page_cache import keep_cached, read_through
from contextiq.store.store import Store


def test_reading_through_reads_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * (3 * page_cache.CHUNK_BYTES + 5))
    assert read_through(path) == path.stat().st_size


class Passes:
    """Stands in for the machine's memory size, which every pass looks up once."""

    def __init__(self, memory: int, passes: int) -> None:
        self.memory, self.passes, self.seen = memory, passes, 0
        self.done = asyncio.Event()

    def __call__(self) -> int:
        self.seen += 1
        if self.seen >= self.passes:
            self.done.set()
        return self.memory


async def run_passes(
    path: Path,
    memory: int,
    monkeypatch: pytest.MonkeyPatch,
    read_through: Callable[[Path], int] | None = None,
) -> list[Path]:
    """Runs `keep_cached` for three passes; returns the paths it read through."""
    read: list[Path] = []

    def recorded(p: Path) -> int:
        read.append(p)
        return 0

    passes = Passes(memory, 3)
    monkeypatch.setattr(page_cache, "read_through", read_through or recorded)
    monkeypatch.setattr(page_cache, "memory_bytes", passes)
    task = asyncio.create_task(keep_cached(path, 0.01))
    await asyncio.wait_for(passes.done.wait(), timeout=10)
    task.cancel()
    return read


async def test_the_file_is_read_again_every_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * 4096)
    read = await run_passes(path, 1 << 30, monkeypatch)
    assert read[:2] == [path, path]


async def test_a_file_too_large_for_memory_is_left_to_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * 4096)
    with caplog.at_level(logging.WARNING, logger=page_cache.__name__):
        read = await run_passes(path, 4096, monkeypatch)
    assert read == []
    assert len([r for r in caplog.records if "not kept in the page cache" in r.message]) == 1


async def test_only_an_sqlite_store_has_a_file(tmp_path: Path) -> None:
    on_file = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    postgres = Store("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    try:
        assert on_file.sqlite_file == tmp_path / "store.db"
        assert postgres.sqlite_file is None
    finally:
        for store in (on_file, postgres):
            await store.close()


async def test_a_failed_pass_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * 4096)

    def unreadable(p: Path) -> int:
        raise PermissionError(f"cannot read {p}")

    with caplog.at_level(logging.WARNING, logger=page_cache.__name__):
        await run_passes(path, 1 << 30, monkeypatch, unreadable)
    assert len([r for r in caplog.records if "could not read" in r.message]) >= 2
