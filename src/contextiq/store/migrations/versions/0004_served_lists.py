"""served lists: each distinct served list stored once, an impression names it (and its
time in ms since the epoch)

Revision ID: 0004_served_lists
Revises: 0003_rules
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

from contextiq.events.types import list_head, served_list
from contextiq.store.online import list_key

revision: str = "0004_served_lists"
down_revision: str | None = "0003_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The columns that move from `impressions` to `served_lists`.
LISTED = ("model_version", "experiment", "arm", "items", "teams")
CHUNK = 5_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

impressions = sa.table(
    "impressions",
    sa.column("recommendation_id", sa.String),
    sa.column("shown_at", sa.DateTime(timezone=True)),
    sa.column("day", sa.String),
    sa.column("model_version", sa.String),
    sa.column("experiment", sa.String),
    sa.column("arm", sa.String),
    sa.column("items", sa.JSON),
    sa.column("teams", sa.JSON(none_as_null=True)),
    sa.column("list_id", sa.String),
    sa.column("shown_ms", sa.BigInteger),
)
served_lists = sa.table(
    "served_lists", sa.column("list_id", sa.String), sa.column("listing", sa.Text)
)


def _chunks(query: Any) -> Any:
    """`query`'s rows in key order, CHUNK at a time (it selects `recommendation_id` first)."""
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(
            query.where(impressions.c.recommendation_id > last)
            .order_by(impressions.c.recommendation_id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade() -> None:
    op.create_table(
        "served_lists",
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("listing", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("list_id", name=op.f("pk_served_lists")),
    )
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("list_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("shown_ms", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    query = sa.select(
        impressions.c.recommendation_id,
        impressions.c.shown_at,
        *(impressions.c[c] for c in LISTED),
    )
    for rows in _chunks(query):
        lists: dict[str, dict[str, Any]] = {}
        named = []
        for rid, at, version, experiment, arm, items, teams in rows:
            listing = served_list(items, version or None, experiment or None, arm or None, teams)
            key = list_key(listing)
            lists[key] = {"list_id": key, "listing": listing}
            named.append({"rid": rid, "key": key, "ms": _ms(at)})
        bind.execute(
            insert(served_lists).on_conflict_do_nothing(index_elements=["list_id"]),
            list(lists.values()),
        )
        bind.execute(
            impressions.update()
            .where(impressions.c.recommendation_id == sa.bindparam("rid"))
            .values(list_id=sa.bindparam("key"), shown_ms=sa.bindparam("ms")),
            named,
        )
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        batch_op.drop_index("ix_impressions_user_time")
        batch_op.alter_column("list_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("shown_ms", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("engaged", existing_type=sa.Integer(), server_default=sa.text("0"))
        for column in ("shown_at", "day", *LISTED):
            batch_op.drop_column(column)
        batch_op.create_index("ix_impressions_user_time", ["user_id", "shown_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        batch_op.drop_index("ix_impressions_user_time")
        batch_op.add_column(sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("day", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("model_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("experiment", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("arm", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("teams", sa.JSON(), nullable=True))
    bind = op.get_bind()
    query = sa.select(
        impressions.c.recommendation_id, impressions.c.shown_ms, served_lists.c.listing
    ).join_from(impressions, served_lists, impressions.c.list_id == served_lists.c.list_id)
    for rows in _chunks(query):
        bind.execute(
            impressions.update()
            .where(impressions.c.recommendation_id == sa.bindparam("rid"))
            .values({c: sa.bindparam(f"v_{c}") for c in ("shown_at", "day", *LISTED)}),
            [_old_row(rid, ms, listing) for rid, ms, listing in rows],
        )
    with op.batch_alter_table("impressions", schema=None) as batch_op:
        for column, kind in (
            ("shown_at", sa.DateTime(timezone=True)),
            ("day", sa.String(length=10)),
            ("model_version", sa.String(length=64)),
            ("experiment", sa.String(length=100)),
            ("arm", sa.String(length=100)),
            ("items", sa.JSON()),
        ):
            batch_op.alter_column(column, existing_type=kind, nullable=False)
        batch_op.alter_column("engaged", existing_type=sa.Integer(), server_default=None)
        batch_op.drop_column("list_id")
        batch_op.drop_column("shown_ms")
        batch_op.create_index("ix_impressions_user_time", ["user_id", "shown_at"], unique=False)
    op.drop_table("served_lists")


def _old_row(rid: str, ms: int, listing: str) -> dict[str, Any]:
    """An impression's values as 0003 stored them, for the downgrade's update."""
    items, version, experiment, arm, teams = list_head(listing)
    at = EPOCH + timedelta(milliseconds=ms)
    return {
        "rid": rid,
        "v_shown_at": at,
        "v_day": at.date().isoformat(),
        "v_model_version": version or "",
        "v_experiment": experiment or "",
        "v_arm": arm or "",
        "v_items": items,
        "v_teams": teams,
    }


def _ms(at: datetime) -> int:
    """ms since the epoch (SQLite gives back naive UTC times)."""
    return ((at if at.tzinfo else at.replace(tzinfo=UTC)) - EPOCH) // timedelta(milliseconds=1)
