"""processed events by age: the dedupe's ids are purged past their window, oldest first

`processed_events` gained a row per applied event and lost none: at 5 million events a day it
grew without bound. The worker now deletes the ids applied before `CONTEXTIQ_DEDUPE_WINDOW_DAYS`
a batch at a time (`Store.purge_processed_events`), walking this index from its oldest end.

On PostgreSQL the index is built CONCURRENTLY, outside the migration's transaction: a plain
build holds off every insert into the table for as long as it reads it (minutes at hundreds of
millions of rows), and a worker of the previous version, still applying events meanwhile,
would fail its batches until they went to the dead letters. A concurrent build that is
interrupted leaves an invalid index behind: drop it (`DROP INDEX ix_processed_events_processed_at`)
and migrate again.

Revision ID: 0013_processed_events_age
Revises: 0012_content_listing
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_processed_events_age"
down_revision: str | None = "0012_content_listing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_processed_events_processed_at",
                "processed_events",
                ["processed_at"],
                postgresql_concurrently=True,
            )
        return
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
