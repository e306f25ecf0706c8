"""online users by experiment: an interleaved report counts its users from the index

`online_users` is keyed by day first, so counting an interleaved experiment's distinct users
(interleaved lists have no per-arm counters) read every row of the table: every user of every
day and group, far past the request's statement timeout on PostgreSQL at a few million rows.

Revision ID: 0011_online_users_experiment
Revises: 0010_experiment_verdicts
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_online_users_experiment"
down_revision: str | None = "0010_experiment_verdicts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_online_users_experiment", "online_users", ["experiment", "user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_online_users_experiment", table_name="online_users")
