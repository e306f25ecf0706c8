"""content by update time: replicas fold in what other processes wrote since a moment

Revision ID: 0002_serve
Revises: 0002_experiments
Create Date: 2026-11-30 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_serve"
down_revision: str | None = "0002_experiments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.create_index("ix_content_updated", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.drop_index("ix_content_updated")
