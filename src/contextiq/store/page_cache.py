"""Keeps the files requests read (the SQLite file, the model's) in the page cache.

A request reads the user's history and its candidates' rows from the SQLite file on the event
loop's thread (`point_reads`), and the model's rows from memory-mapped arrays. Hosts that
reclaim page cache nobody touched for a while (DAMON's `pageout` on this project's virtual
machines took cold pages after 60 s; cgroup `memory.reclaim` agents do the same) leave most of
a large file on the disk, and each of those reads then waits for it with the event loop
stopped: at 100,000 items two request processes answered 356 uncached requests/s with 160 MB
of a 1.4 GB database cached, and 521/s with all of it (docs/benchmarks.md, "The page cache");
the model's 560 MB of arrays began to go the same way two minutes after the last request.
Reading a file through counts as a touch, and costs little when it is cached (0.1 s of CPU for
1.4 GB), so one process per host does it now and then, like `vmtouch`, and each request process
does it once before it serves, so that a cold disk is read before the first request rather than
during it. PostgreSQL keeps its hot pages in its own shared buffers.

The reading is done by a child process (`python -m contextiq.store.page_cache FILE...`):
closing any descriptor of a database file drops every POSIX lock the process holds on it,
SQLite's included, and another process's last connection would then delete the write-ahead log
under this one's (the "disk I/O error" of sqlite.org/howtocorrupt.html, section 2.2).
"""

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: Files larger together than this share of the machine's memory are left to the kernel:
#: keeping them would push out everything else.
MAX_SHARE_OF_MEMORY = 0.25
CHUNK_BYTES = 1 << 20
#: A pause after every this many bytes: a pass over 1.9 GB in one go took a core for 0.3 s,
#: and the paced p99 of requests running beside it rose from 25 to 34-99 ms (docs/benchmarks.md).
PACE_BYTES = 16 << 20
PACE_SECONDS = 0.01


def memory_bytes() -> int:
    """Physical memory (psutil: `os.sysconf` has no such names on Windows)."""
    return int(psutil.virtual_memory().total)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_through(path: Path, pause: float = 0.0) -> int:
    """Reads every byte once, resting `pause` seconds after every `PACE_BYTES`; returns how
    many. Runs in the child process."""
    total = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(CHUNK_BYTES):
            total += len(chunk)
            if pause and total % PACE_BYTES < len(chunk):
                time.sleep(pause)
    return total


async def read_in_child(paths: Sequence[Path]) -> None:
    """`read_through` in a child process, which may close its descriptors without harm.

    Started by the standard library (vfork, then exec), never by the event loop: uvloop's
    `subprocess_exec` calls fork(), which runs OpenBLAS's at-fork handler, and that handler
    waits forever for a BLAS thread while another thread is inside a matrix product (folding
    new content into the model does one): the whole process stopped for good.
    """
    child = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", __name__, *map(str, paths)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _, err = await asyncio.to_thread(child.communicate)
    except asyncio.CancelledError:
        child.kill()
        raise
    if child.returncode:
        lines = err.decode(errors="replace").strip().splitlines()
        raise OSError(lines[-1] if lines else f"exit status {child.returncode}")


def total_size(paths: Sequence[Path]) -> int:
    return sum(file_size(p) for p in paths)


async def read_if_they_fit(paths: Sequence[Path]) -> bool:
    """Read `paths` through once; False, reading nothing, when they are too large to keep."""
    size = await asyncio.to_thread(total_size, paths)
    if size > MAX_SHARE_OF_MEMORY * memory_bytes():
        return False
    if size:
        try:
            await read_in_child(paths)
        except OSError as exc:  # replaced or unreadable for now: the next pass tries again
            log.warning("could not read %s through: %s", ", ".join(map(str, paths)), exc)
    return True


async def keep_cached(files: Callable[[], Sequence[Path]], interval_seconds: float) -> None:
    """Read `files()` (they change with the model) through every `interval_seconds`, while
    they fit in memory; the first time after one interval (a request process has just read
    them before serving)."""
    warned = False
    while True:
        await asyncio.sleep(interval_seconds)
        paths = files()
        if not await read_if_they_fit(paths) and not warned:
            log.warning(
                "%s (%.1f GB) are over %d%% of memory: not kept in the page cache",
                ", ".join(map(str, paths)),
                total_size(paths) / 1e9,
                100 * MAX_SHARE_OF_MEMORY,
            )
            warned = True


if __name__ == "__main__":
    for name in sys.argv[1:]:
        read_through(Path(name), PACE_SECONDS)
