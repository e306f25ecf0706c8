"""content availability (available_from, available_until, hidden) and promotion rules

Revision ID: 0003_rules
Revises: 0002_import
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_rules"
down_revision: str | None = "0002_import"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.add_column(sa.Column("available_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("available_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "rules",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("factor", sa.Float(), nullable=True),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("content_id", sa.String(length=128), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rules")),
    )


def downgrade() -> None:
    op.drop_table("rules")
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.drop_column("hidden")
        batch_op.drop_column("available_until")
        batch_op.drop_column("available_from")
