"""What an erasure leaves readable in a SQLite file, overwritten.

Deleted rows stay in the database's free pages and in its write-ahead log until something
overwrites them: whoever copies the file (a backup, a stolen disk) could read an erased
person back. Every connection zeroes what it deletes (`PRAGMA secure_delete`, set at connect
in `engine.py`); after an erasure, `truncate_wal` copies the log into the database and empties
it, since the log still holds the pages as they were before the delete. PostgreSQL needs
neither: VACUUM reclaims dead rows (docs/security.md).
"""

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from contextiq.store.engine import BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

#: How long the checkpoint waits for readers of an older snapshot; it holds back writers
#: meanwhile, so briefly. Past it, it copies what it can and leaves the log for the next one.
CHECKPOINT_WAIT_MS = 1_000


async def truncate_wal(engine: AsyncEngine) -> bool:
    """Checkpoint the whole log into the database and truncate it to zero bytes; False (and a
    warning) when a reader or a failure kept part of it. Never raises: the erasure is done."""
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                # (busy, frames in the log, frames copied): busy 0 is a log truncated
                busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()[0]
            finally:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except Exception as exc:
        log.warning("could not truncate the SQLite log after an erasure: %s", exc)
        return False
    if busy:
        log.warning(
            "a long read kept the SQLite log from being truncated after an erasure; "
            "the next erasure's checkpoint, or SQLite's own, overwrites it"
        )
    return not busy
