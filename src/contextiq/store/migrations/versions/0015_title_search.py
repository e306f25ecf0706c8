"""title search: the catalogue listing's `q` is answered from a trigram index

`GET /content?q=` lowered and scanned every title and id (89-375 ms at 100,000 items on
SQLite, 58-193 ms on PostgreSQL; linear in the catalogue). See store/title_search.py.

PostgreSQL: the `pg_trgm` extension (shipped with PostgreSQL in contrib, and trusted since
PostgreSQL 13: a role with CREATE on the database installs it, no superuser needed), then a GIN
index of the lowered titles' and ids' trigrams, built CONCURRENTLY as 0013 builds its index (a
plain build holds off every catalogue write for as long as it reads the table). A role that may
not create the extension fails here with what to ask for; the extension is left in place on
downgrade (other schemas may use it). An interrupted concurrent build leaves an invalid index:
drop it (`DROP INDEX ix_content_search`) and migrate again.

SQLite: the FTS5 table `content_search` with the `trigram` tokenizer (SQLite 3.34 or later, with
FTS5 compiled in, as in the Python 3.11 images and Debian's and Ubuntu's builds), filled here
from the stored items (with `lower` as contextiq's connections define it: Python's,
store/engine.py) and then kept in step by the store's writes. An older SQLite (a Python 3.11
linked against Ubuntu 20.04's 3.31) gets no table and a warning: its searches scan, as before,
and the embedded product still starts there.

Revision ID: 0015_title_search
Revises: 0014_training_count
"""

import logging
import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_title_search"
down_revision: str | None = "0014_training_count"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

_SQLITE = [
    "CREATE VIRTUAL TABLE content_search USING fts5(title, content_id,"
    " tokenize='trigram case_sensitive 1')",
    "INSERT INTO content_search (rowid, title, content_id)"
    " SELECT rowid, lower(title), lower(content_id) FROM content",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
        return
    try:
        op.execute(_SQLITE[0])
    except sa.exc.OperationalError as error:  # no such module: fts5 / no such tokenizer
        log.warning(
            "catalogue search left unindexed: it needs SQLite's FTS5 with its trigram tokenizer"
            " (SQLite 3.34 or later), and this Python's SQLite %s has not (%s); searches scan"
            " every title",
            sqlite3.sqlite_version,
            error.orig,
        )
        return
    op.execute(_SQLITE[1])


def _postgresql() -> None:
    try:
        # In a block of its own: entering it commits the revisions before this one, so a
        # refusal here leaves them recorded and the next run starts at this one.
        with op.get_context().autocommit_block():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        raise RuntimeError(
            f"the catalogue search needs PostgreSQL's pg_trgm extension, and creating it failed"
            f" ({error.orig}): grant this role CREATE on the database (pg_trgm is a trusted"
            " extension), or have a superuser run 'CREATE EXTENSION pg_trgm;' in it, then"
            " migrate again"
        ) from error
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY ix_content_search ON content USING gin"
            " (lower(title) gin_trgm_ops, lower(content_id) gin_trgm_ops)"
        )
        # The expressions' statistics, without which the planner guesses that a search
        # matches 4 % of the catalogue and scans it (autovacuum gathers them only after
        # a tenth of the table is written).
        op.execute("ANALYZE content")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_content_search", table_name="content")
        return
    op.execute("DROP TABLE IF EXISTS content_search")
