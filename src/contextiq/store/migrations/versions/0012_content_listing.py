"""content listing by cursor: the listing's indexes end with the id

A page of `GET /content` past a cursor starts at (created_at, content_id) in the index; the
old indexes, on created_at alone, left ties to a sort of every row from there on.

Revision ID: 0012_content_listing
Revises: 0011_online_users_experiment
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_content_listing"
down_revision: str | None = "0011_online_users_experiment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_content_listing", "content", ["created_at", "content_id"])
    op.create_index(
        "ix_content_category_listing", "content", ["category", "created_at", "content_id"]
    )
    op.drop_index("ix_content_created", table_name="content")
    op.drop_index("ix_content_category_created", table_name="content")


def downgrade() -> None:
    op.create_index("ix_content_category_created", "content", ["category", "created_at"])
    op.create_index("ix_content_created", "content", ["created_at"])
    op.drop_index("ix_content_category_listing", table_name="content")
    op.drop_index("ix_content_listing", table_name="content")
