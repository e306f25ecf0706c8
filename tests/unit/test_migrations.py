"""The Alembic chain builds exactly the schema `store/tables.py` declares."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import ImpressionBatch, InteractionRecorded, list_head, served_list
from contextiq.store.engine import create_engine
from contextiq.store.migrate import alembic_config, migration_engine, upgrade, upgrade_async
from contextiq.store.online import list_key
from contextiq.store.store import Store
from contextiq.store.tables import Base, ImpressionRow, OutboxRow, ServedList
from tests.integration.conftest import fresh_pg_database


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.integration
async def test_migrations_run_without_the_requests_statement_timeout() -> None:
    """Building an index on 5 million rows took 5.5 s, past a request's 5 s, and was undone."""
    async with fresh_pg_database() as url:
        for engine, timeout in ((create_engine(url), "5s"), (migration_engine(url), "0")):
            async with engine.connect() as conn:
                assert await conn.scalar(sa.text("SHOW statement_timeout")) == timeout
            await engine.dispose()


OLD_IMPRESSIONS = sa.table(
    "impressions",
    *(sa.column(c, sa.String) for c in ("recommendation_id", "user_id", "day")),
    *(sa.column(c, sa.String) for c in ("model_version", "experiment", "arm")),
    sa.column("shown_at", sa.DateTime(timezone=True)),
    *(sa.column(c, sa.JSON(none_as_null=True)) for c in ("items", "teams", "seen", "clicked")),
    sa.column("engaged", sa.Integer),
)


OLD_COLUMNS = (
    "recommendation_id",
    "user_id",
    "shown_at",
    "model_version",
    "experiment",
    "arm",
    "items",
    "teams",
    "clicked",
    "engaged",
)


async def test_impressions_move_to_served_lists_and_back(migrated_url: str) -> None:
    """0004 stores each distinct list once, named as the worker names it; downgrade restores."""
    url, config = migrated_url, alembic_config(migrated_url)
    await asyncio.to_thread(command.downgrade, config, "0003_rules")
    t0 = datetime(2026, 11, 30, 23, 59, 59, 999_000, tzinfo=UTC)
    ab, bc = [["a", 0.9], ["b", 0.8]], [["b", 0.7], ["c", 0.6]]
    old = [
        ("r1", "u1", t0, "v1", "exp", "x", ab, None, [2], 1),
        ("r2", "u2", t0 + timedelta(seconds=1), "v1", "exp", "x", ab, None, None, 0),
        ("r3", "u1", t0 + timedelta(seconds=2), "v1", "exp", "", bc, ["x", "y"], None, 0),
    ]
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            OLD_IMPRESSIONS.insert(),
            [
                dict(zip(OLD_COLUMNS, row, strict=True)) | {"day": row[2].date().isoformat()}
                for row in old
            ],
        )
    await upgrade_async(url)
    async with engine.connect() as conn:
        lists = {r.list_id: r for r in await conn.execute(select(ServedList))}
        rows = {r.recommendation_id: r for r in await conn.execute(select(ImpressionRow))}
    assert len(lists) == 2
    assert (
        rows["r1"].list_id
        == rows["r2"].list_id
        == list_key(served_list(ab, "v1", "exp", "x", None))
    )
    assert list_head(lists[rows["r3"].list_id].listing)[4] == ["x", "y"]
    assert rows["r1"].shown_ms == int(t0.timestamp() * 1000)
    assert (rows["r1"].clicked, rows["r1"].engaged, rows["r2"].engaged) == ([2], 1, 0)
    # The worker reads them as before: a click on "c" goes to r3, position 2.
    store = Store(url)
    click = Interaction("i1", "u1", "c", InteractionType.VIEW, 1.0, t0 + timedelta(seconds=5))
    await store.record_interactions([click])  # its row is stored with its outbox row
    await store.apply_events([InteractionRecorded(click)])
    await store.close()
    await asyncio.to_thread(command.downgrade, config, "0003_rules")
    async with engine.connect() as conn:
        back = {r.recommendation_id: r for r in await conn.execute(select(OLD_IMPRESSIONS))}
    await engine.dispose()
    assert (back["r1"].day, back["r1"].arm, back["r1"].items) == ("2026-11-30", "x", ab)
    assert back["r1"].shown_at.replace(tzinfo=UTC) == t0
    assert (back["r3"].teams, back["r3"].clicked) == (["x", "y"], [2])
    await upgrade_async(url)


async def test_sent_impression_batches_kept_from_before_go(migrated_url: str) -> None:
    """0007: a relay of the previous version kept sent batches a day; an erasure no longer
    reads them, so they go. A batch not yet sent, and any other row, stay."""
    url, config = migrated_url, alembic_config(migrated_url)
    await asyncio.to_thread(command.downgrade, config, "0006_subject_indexes")
    listing = served_list([("c1", 0.9)], "v1", None, None, None)
    sent = ImpressionBatch.of([("r1", "u1", listing, 1)])
    pending = ImpressionBatch.of([("r2", "u1", listing, 2)])
    click = InteractionRecorded(
        Interaction("i1", "u1", "c1", InteractionType.VIEW, 1.0, datetime(2026, 1, 1, tzinfo=UTC))
    )
    now = datetime.now(UTC)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(OutboxRow),
            [
                {"event_id": e.event_id, "key": e.key, "payload": e.to_wire(), "created_at": now,
                 "published_at": at}
                for e, at in ((sent, now), (pending, None), (click, now))
            ],
        )  # fmt: skip
    await upgrade_async(url)
    async with engine.connect() as conn:
        left = set(await conn.scalars(select(OutboxRow.event_id)))
    await engine.dispose()
    assert left == {pending.event_id, click.event_id}


async def test_dead_letters_table_comes_and_goes(migrated_url: str) -> None:
    """0008 adds `dead_letters`; its downgrade drops it and an upgrade brings it back."""
    url, config = migrated_url, alembic_config(migrated_url)

    async def tables() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    assert "dead_letters" in await tables()
    await asyncio.to_thread(command.downgrade, config, "0007_sent_impression_batches")
    assert "dead_letters" not in await tables()
    await upgrade_async(url)
    assert "dead_letters" in await tables()


async def test_processed_events_age_index_comes_and_goes(migrated_url: str) -> None:
    """0013 indexes `processed_events` by age for the purge (on PostgreSQL concurrently,
    outside the migration's transaction); its downgrade drops it, an upgrade builds it again."""
    url, config = migrated_url, alembic_config(migrated_url)

    async def indexes() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("processed_events"))
                return {str(index["name"]) for index in found}
        finally:
            await engine.dispose()

    assert "ix_processed_events_processed_at" in await indexes()
    await asyncio.to_thread(command.downgrade, config, "0012_content_listing")
    assert "ix_processed_events_processed_at" not in await indexes()
    await upgrade_async(url)
    assert "ix_processed_events_processed_at" in await indexes()


async def test_training_count_comes_at_zero_and_goes(migrated_url: str) -> None:
    """0014 adds the shared training count, its one row at 0 (the workers of the previous
    version counted in memory); its downgrade drops it, an upgrade brings it back at 0."""
    url, config = migrated_url, alembic_config(migrated_url)

    async def count() -> tuple[object, ...] | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                if not await conn.run_sync(lambda c: sa.inspect(c).has_table("training_count")):
                    return None
                rows = await conn.execute(sa.text("SELECT events, due_from FROM training_count"))
                return tuple(rows.one())
        finally:
            await engine.dispose()

    assert await count() == (0, 0)
    store = Store(url)
    await store.round_completed(-3)  # a count other than 0
    await store.close()
    await asyncio.to_thread(command.downgrade, config, "0013_processed_events_age")
    assert await count() is None
    await upgrade_async(url)
    assert await count() == (0, 0)
