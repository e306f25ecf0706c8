"""Keeps an SQLite file in the operating system's page cache while the service runs.

A request reads the user's history and its candidates' rows from the file on the event loop's
thread (`point_reads`). Hosts that reclaim page cache nobody touched for a while (DAMON's
`pageout` on this project's virtual machines took cold pages after 60 s; cgroup
`memory.reclaim` agents do the same) leave most of a large file on the disk, and each of those
reads then waits for it with the event loop stopped: at 100,000 items two request processes
answered 356 uncached requests/s with 160 MB of a 1.4 GB file cached, and 521/s with all of it
(docs/benchmarks.md, "The page cache"). Reading the file through counts as a touch, and costs
little when it is cached (0.1 s of CPU for 1.4 GB), so one process per host does it now and
then, like `vmtouch`, and each request process does it once before it serves, so that a cold
disk is read before the first request rather than during it. PostgreSQL keeps its hot pages in
its own shared buffers.

The reading is done by a child process (`python -m contextiq.store.page_cache FILE`): closing
any descriptor of a database file drops every POSIX lock the process holds on it, SQLite's
included, and another process's last connection would then delete the write-ahead log under
this one's (the "disk I/O error" of sqlite.org/howtocorrupt.html, section 2.2).
"""

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: A file larger than this share of the machine's memory is left to the kernel: keeping it
#: would push out everything else.
MAX_SHARE_OF_MEMORY = 0.25
CHUNK_BYTES = 1 << 20


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_through(path: Path) -> int:
    """Reads every byte once; returns how many. Runs in the child process."""
    total = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(CHUNK_BYTES):
            total += len(chunk)
    return total


async def read_in_child(path: Path) -> None:
    """`read_through` in a child process, which may close its descriptor without harm."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", __name__, str(path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, err = await child.communicate()
    except asyncio.CancelledError:
        child.kill()
        raise
    if child.returncode:
        lines = err.decode(errors="replace").strip().splitlines()
        raise OSError(lines[-1] if lines else f"exit status {child.returncode}")


async def read_if_it_fits(path: Path) -> bool:
    """Read `path` through once; False, reading nothing, when it is too large to keep."""
    size = await asyncio.to_thread(file_size, path)
    if size > MAX_SHARE_OF_MEMORY * memory_bytes():
        return False
    if size:
        try:
            await read_in_child(path)
        except OSError as exc:  # replaced or unreadable for now: the next pass tries again
            log.warning("could not read %s through: %s", path, exc)
    return True


async def keep_cached(path: Path, interval_seconds: float) -> None:
    """Read `path` through every `interval_seconds`, while it fits in memory."""
    warned = False
    while True:
        if not await read_if_it_fits(path) and not warned:
            log.warning(
                "%s (%.1f GB) is over %d%% of memory: not kept in the page cache",
                path,
                file_size(path) / 1e9,
                100 * MAX_SHARE_OF_MEMORY,
            )
            warned = True
        await asyncio.sleep(interval_seconds)


if __name__ == "__main__":
    read_through(Path(sys.argv[1]))
