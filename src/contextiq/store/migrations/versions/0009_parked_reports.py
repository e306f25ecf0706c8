"""parked reports: clicks and seen reports applied before their impression wait for it

Revision ID: 0009_parked_reports
Revises: 0008_dead_letters
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_parked_reports"
down_revision: str | None = "0008_dead_letters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("recommendation_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_reports")),
    )
    for column in ("recommendation_id", "user_id", "parked_at"):
        op.create_index(f"ix_parked_reports_{column}", "parked_reports", [column])


def downgrade() -> None:
    op.drop_table("parked_reports")
