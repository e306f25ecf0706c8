"""sent impression batches: deleted, as the relay now deletes them when sent

The relay kept sent impression batches for a day, and an erasure took the user's impressions
out of each. An erasure now reads only the batches not yet sent, so those kept from before
would keep naming an erased user until the relay's purge: they go now. Their impressions are
the worker's rows already.

Revision ID: 0007_sent_impression_batches
Revises: 0006_subject_indexes
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_sent_impression_batches"
down_revision: str | None = "0006_subject_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM outbox WHERE published_at IS NOT NULL AND event_id LIKE 'impressions-%'"
    )


def downgrade() -> None:
    """Nothing to bring back: the batches were sent and applied."""
