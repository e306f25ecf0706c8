"""An interactions file parsed by several processes at once, chunks handed back in file order.

Parsing a row (the API's model, the domain object, the driver's form of its time) costs about
four times the CPU of writing it (26 to 32 µs against 7.5 µs a row on a slow 2-core host,
docs/benchmarks.md), so one parsing thread bounded the whole import while the writer idled.
Here the import's process only reads the CSV records and writes; the parsing runs on every
core, and what crosses between processes is plain dicts and tuples.
"""

import asyncio
import os
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from contextiq.config import Settings
from contextiq.data.files import (
    BadRow,
    Record,
    chunks,
    interaction_from,
    numbered_records,
)
from contextiq.domain import Interaction
from contextiq.heap import young_collections_only
from contextiq.progress import ReadPosition
from contextiq.store.bulk import Row, interaction_rows

#: (line, database row or why it is refused) per record, in file order.
Parsed = list[tuple[int, Row | BadRow]]
#: A parsed chunk and how many bytes of the file had been read once its records were.
Chunk = tuple[Parsed, int]
#: More processes than this gain nothing: the writer and the CSV reader become the bound.
MAX_PARSERS = 4


def parse_chunk(
    path: Path, settings: Settings, time_form: Callable[[datetime], Any], chunk: list[Record]
) -> Parsed:
    """In a parsing process: each record as a row for the loader, or the reason it is refused."""
    parsed = [interaction_from(path, settings, record) for record in chunk]
    good = [i for _, i in parsed if isinstance(i, Interaction)]
    rows = iter(interaction_rows(good, time_form))
    return [(line, i if isinstance(i, BadRow) else next(rows)) for line, i in parsed]


async def parsed_chunks(
    path: Path, settings: Settings, time_form: Callable[[datetime], Any], size: int
) -> AsyncGenerator[Chunk, None]:
    """Chunks of up to `size` records, parsed ahead by one process per core, each with the
    bytes read up to its end (an import's progress, `ReadPosition`).

    At most one chunk more than there are processes is held at a time, so memory stays
    bounded. Close it (`contextlib.aclosing`) to stop the processes early. Starting them
    costs a few seconds (each imports the package), so a file of one chunk is parsed here.
    """
    position = ReadPosition(path)
    read = chunks(numbered_records(path, position), size)
    parse = partial(parse_chunk, path, settings, time_form)
    first = await asyncio.to_thread(next, read, None)
    first_read = position.bytes
    second = None if first is None else await asyncio.to_thread(next, read, None)
    if first is None or second is None:  # one chunk at most: not worth starting processes
        if first is not None:
            yield await asyncio.to_thread(parse, first), position.bytes
        return
    parsers = max(1, min(MAX_PARSERS, os.cpu_count() or 1))
    loop = asyncio.get_running_loop()
    # spawn: a fork would copy this process's threads (the database driver's) mid-flight.
    context = get_context("spawn")
    with ProcessPoolExecutor(parsers, context, initializer=young_collections_only) as pool:
        ahead: deque[tuple[Future[Parsed], int]] = deque(
            [(pool.submit(parse, first), first_read), (pool.submit(parse, second), position.bytes)]
        )
        try:
            while True:
                while len(ahead) <= parsers:
                    chunk = await asyncio.to_thread(next, read, None)
                    if chunk is None:
                        break
                    ahead.append((pool.submit(parse, chunk), position.bytes))
                if not ahead:
                    return
                parsing, read_to = ahead.popleft()
                yield await asyncio.wrap_future(parsing, loop=loop), read_to
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
