"""training count: the events applied since the last round, shared by every worker

Each worker counted the events it applied in its memory: with W workers on Kafka a round
started after about W x `CONTEXTIQ_RETRAIN_EVERY_EVENTS` events in all, a restart began the
count again from nothing, and an API process that does not consume knew no count. One row
now holds it (`Store.apply_events` adds each batch's in its transaction); the count starts
at 0 here: the events applied before it were counted by the workers of the previous version.

Revision ID: 0014_training_count
Revises: 0013_processed_events_age
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_training_count"
down_revision: str | None = "0013_processed_events_age"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "training_count",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("due_from", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_count")),
    )
    op.bulk_insert(table, [{"id": 1, "events": 0, "due_from": 0}])


def downgrade() -> None:
    op.drop_table("training_count")
