"""Keeps an SQLite file in the operating system's page cache while the service runs.

A request reads the user's history and its candidates' rows from the file on the event loop's
thread (`point_reads`). Hosts that reclaim page cache nobody touched for a while (DAMON's
`pageout` on this project's virtual machines took cold pages after 60 s; cgroup
`memory.reclaim` agents do the same) leave most of a large file on the disk, and each of those
reads then waits for it with the event loop stopped: at 100,000 items two request processes
answered 356 uncached requests/s with 160 MB of a 1.4 GB file cached, and 521/s with all of it
(docs/benchmarks.md, "The page cache"). Reading the file through counts as a touch, and costs
little when it is cached (0.1 s of CPU for 1.4 GB), so one process per host does it now and
then, like `vmtouch`. PostgreSQL keeps its hot pages in its own shared buffers.
"""

import asyncio
import logging
import os
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
    """Reads every byte once (releasing the GIL while it waits); returns how many."""
    total = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(CHUNK_BYTES):
            total += len(chunk)
    return total


async def keep_cached(path: Path, interval_seconds: float) -> None:
    """Read `path` through every `interval_seconds` in a thread, while it fits in memory."""
    warned = False
    while True:
        size = await asyncio.to_thread(file_size, path)
        if size > MAX_SHARE_OF_MEMORY * memory_bytes():
            if not warned:
                log.warning(
                    "%s (%.1f GB) is over %d%% of memory: not kept in the page cache",
                    path,
                    size / 1e9,
                    100 * MAX_SHARE_OF_MEMORY,
                )
                warned = True
        elif size:
            try:
                await asyncio.to_thread(read_through, path)
            except OSError as exc:  # replaced or unreadable for now: the next pass tries again
                log.warning("could not read %s through: %s", path, exc)
        await asyncio.sleep(interval_seconds)
