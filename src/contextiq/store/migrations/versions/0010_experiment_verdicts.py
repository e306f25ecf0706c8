"""experiment verdicts: an ended experiment keeps the verdict it ended with

The report recomputed the winner and verdict on every read, so late events could change the
verdict an experiment was stopped (and promoted) on. `verdict` now holds it, with `winner`,
from the moment it ends. An experiment stopped before this kept only its winner: its verdict
says so.

Revision ID: 0010_experiment_verdicts
Revises: 0009_parked_reports
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_experiment_verdicts"
down_revision: str | None = "0009_parked_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

experiments = sa.table(
    "experiments",
    sa.column("stopped_at", sa.DateTime(timezone=True)),
    sa.column("winner", sa.String),
    sa.column("verdict", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verdict", sa.Text(), nullable=True))
    op.execute(
        experiments.update()
        .where(experiments.c.stopped_at.is_not(None))
        .values(
            verdict=sa.case(
                (
                    experiments.c.winner.is_(None),
                    "Stopped with no winner (its verdict was not recorded then).",
                ),
                else_=experiments.c.winner
                + " won when it was stopped (its verdict was not recorded then).",
            )
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("verdict")
