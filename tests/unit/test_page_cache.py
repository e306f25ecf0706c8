"""One process per host keeps the SQLite file and the model's files in the page cache."""

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from contextiq.store import page_cache
from contextiq.store.page_cache import keep_cached, read_if_they_fit, read_in_child, read_through
from contextiq.store.store import Store


def test_reading_through_reads_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * (3 * page_cache.CHUNK_BYTES + 5))
    assert read_through(path) == path.stat().st_size


def test_a_pass_rests_after_every_paced_stretch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * (4 * page_cache.CHUNK_BYTES + 5))
    rests: list[float] = []
    monkeypatch.setattr(page_cache, "PACE_BYTES", 2 * page_cache.CHUNK_BYTES)
    monkeypatch.setattr(page_cache.time, "sleep", rests.append)
    assert read_through(path, 0.01) == path.stat().st_size
    assert rests == [0.01, 0.01]  # after 2 and 4 MiB: one core is never held for a whole pass


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
    reader: Callable[[Sequence[Path]], Awaitable[None]] | None = None,
) -> list[Path]:
    """Runs `keep_cached` for three passes; returns the paths it read through."""
    read: list[Path] = []

    async def recorded(paths: Sequence[Path]) -> None:
        read.extend(paths)

    passes = Passes(memory, 3)
    monkeypatch.setattr(page_cache, "read_in_child", reader or recorded)
    monkeypatch.setattr(page_cache, "memory_bytes", passes)
    task = asyncio.create_task(keep_cached(lambda: [path], 0.01))
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


async def test_a_request_process_reads_the_files_once_if_they_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * 4096)
    model = tmp_path / "weights.npy"
    model.write_bytes(b"x" * 4096)
    read: list[Path] = []

    async def recorded(paths: Sequence[Path]) -> None:
        read.extend(paths)

    monkeypatch.setattr(page_cache, "read_in_child", recorded)
    monkeypatch.setattr(page_cache, "memory_bytes", lambda: 1 << 30)
    assert await read_if_they_fit([path, model])
    monkeypatch.setattr(page_cache, "memory_bytes", lambda: 8192)  # together over a quarter
    assert not await read_if_they_fit([path, model])
    assert read == [path, model]


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

    async def unreadable(paths: Sequence[Path]) -> None:
        raise PermissionError(f"cannot read {paths[0]}")

    with caplog.at_level(logging.WARNING, logger=page_cache.__name__):
        await run_passes(path, 1 << 30, monkeypatch, unreadable)
    assert len([r for r in caplog.records if "could not read" in r.message]) >= 2


async def test_a_child_that_fails_says_why(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No such file"):
        await read_in_child([tmp_path / "gone.sqlite"])


def write_and_close_elsewhere(path: Path) -> None:
    """Another process's only connection: it writes, then closes (checkpointing if last)."""
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute('INSERT INTO t VALUES (2)'); c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)


async def test_reading_the_file_keeps_this_process_sqlite_locks(tmp_path: Path) -> None:
    """Had this process closed a descriptor of the file, its locks would be gone, and another
    process closing its last connection would checkpoint and delete the write-ahead log that
    this process's connection still uses (what a second `contextiq serve` saw as "disk I/O
    error")."""
    path = tmp_path / "store.db"
    ours = sqlite3.connect(path)
    try:
        ours.execute("PRAGMA journal_mode=WAL")
        ours.execute("CREATE TABLE t (x INTEGER)")
        ours.execute("INSERT INTO t VALUES (1)")
        ours.commit()
        await read_in_child([path])
        await asyncio.to_thread(write_and_close_elsewhere, path)
        assert path.with_name("store.db-wal").exists()
        assert ours.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        ours.close()


FORK_DURING_BLAS = """
import asyncio, sys, threading
from pathlib import Path
import numpy as np, uvloop
from contextiq.store.page_cache import read_in_child

sys.executable = "true"  # what the child does does not matter here, only how it starts

done = threading.Event()

def products() -> None:
    a = np.random.rand(800, 800)
    while not done.is_set():
        a @ a.T

async def main() -> None:
    worker = threading.Thread(target=products, daemon=True)
    worker.start()
    for _ in range(300):
        await read_in_child([Path(sys.argv[1])])
    done.set()
    # Left inside a product at exit, the thread leaves an OpenBLAS worker waiting for it, and
    # OpenBLAS's exit handler waits for that worker: an exit that hung 1 run in 13.
    worker.join()

uvloop.run(main())
"""


def test_a_pass_started_while_another_thread_multiplies_matrices_ends(tmp_path: Path) -> None:
    """A child forked by uvloop ran OpenBLAS's at-fork handler, which never returned while
    another thread was inside a matrix product (a content upsert folding items into EASE):
    the server stopped answering for good."""
    pytest.importorskip("uvloop")  # the server's loop wherever it forks (not on Windows)
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"x" * 4096)
    script = [sys.executable, "-c", FORK_DURING_BLAS, str(path)]
    subprocess.run(script, check=True, timeout=60)


def test_memory_is_read_where_os_has_no_sysconf(monkeypatch: pytest.MonkeyPatch) -> None:
    """`os.sysconf` does not exist on Windows: the size check must not depend on it."""
    monkeypatch.delattr(os, "sysconf", raising=False)
    assert page_cache.memory_bytes() > 0
