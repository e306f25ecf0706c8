"""import_pending (bulk-loaded id ranges awaiting their stats fold) and item_vectors

Revision ID: 0002_import
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_import"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_pending",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("lo", sa.BigInteger(), nullable=False),
        sa.Column("hi", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_pending")),
    )
    op.create_table(
        "item_vectors",
        sa.Column("content_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_id", "model", name=op.f("pk_item_vectors")),
    )


def downgrade() -> None:
    op.drop_table("item_vectors")
    op.drop_table("import_pending")
