"""history index: a user's interactions read from the index alone

The index on (user_id, occurred_at) found a user's rows, then read each from the table: one
page per event once an import in time order had scattered them. The new index carries every
column the request path's history read needs, in that read's order.

Revision ID: 0005_history_index
Revises: 0004_served_lists
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_history_index"
down_revision: str | None = "0004_served_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY = ["user_id", "occurred_at", "id", "content_id", "interaction_type", "weight"]


def upgrade() -> None:
    op.create_index("ix_interactions_history", "interactions", HISTORY, unique=False)
    op.drop_index("ix_interactions_user_time", table_name="interactions")


def downgrade() -> None:
    op.create_index(
        "ix_interactions_user_time", "interactions", ["user_id", "occurred_at"], unique=False
    )
    op.drop_index("ix_interactions_history", table_name="interactions")
