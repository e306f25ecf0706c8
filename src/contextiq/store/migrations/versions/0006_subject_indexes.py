"""subject indexes: a user's online-metric and experiment rows found by the user

`online_users` and `experiment_users` are keyed by day or experiment first, so an erasure,
an export or the session purge read every row of the table to find one user's: a user a day
over months is millions of rows, past the request's statement timeout on PostgreSQL.

Revision ID: 0006_subject_indexes
Revises: 0005_history_index
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_subject_indexes"
down_revision: str | None = "0005_history_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_online_users_user", "online_users", ["user_id"], unique=False)
    op.create_index("ix_experiment_users_user", "experiment_users", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_experiment_users_user", table_name="experiment_users")
    op.drop_index("ix_online_users_user", table_name="online_users")
