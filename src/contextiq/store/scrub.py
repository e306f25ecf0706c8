"""What an erasure leaves readable in a SQLite file, overwritten.

Deleted rows stay in the database's free pages and in its write-ahead log until something
overwrites them: whoever copies the file (a backup, a stolen disk) could read an erased
person back. Every connection zeroes what it deletes (`PRAGMA secure_delete`, set at connect
in `engine.py`); after an erasure, `truncate_wal` copies the log into the database and empties
it, since the log still holds the pages as they were before the delete. PostgreSQL needs
neither: VACUUM reclaims dead rows (docs/security.md).
"""

import asyncio
import logging
import sqlite3
from contextlib import closing
from pathlib import Path

log = logging.getLogger(__name__)

#: How long the checkpoint waits for readers of an older snapshot; it holds back writers
#: meanwhile, so briefly. Past it, it copies what it can and leaves the log for the next one.
CHECKPOINT_WAIT_SECONDS = 1.0


def _checkpoint(database: Path) -> bool:
    # A connection of its own, not the pool's: its busy timeout is the short wait above, and
    # a cancelled caller leaves no pooled connection half way through a statement.
    with closing(sqlite3.connect(database, timeout=CHECKPOINT_WAIT_SECONDS)) as conn:
        # (busy, frames in the log, frames copied): busy 0 is a log truncated
        busy: int = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return not busy


async def truncate_wal(database: Path) -> bool:
    """Checkpoint the whole log into the database and truncate it to zero bytes; False (and a
    warning) when a reader or a failure kept part of it. Raises nothing: the erasure is done."""
    try:
        truncated = await asyncio.to_thread(_checkpoint, database)
    except sqlite3.Error as exc:
        log.warning("could not truncate the SQLite log after an erasure: %s", exc)
        return False
    if not truncated:
        log.warning(
            "a long read kept the SQLite log from being truncated after an erasure; "
            "the next erasure's checkpoint, or SQLite's own, overwrites it"
        )
    return truncated
