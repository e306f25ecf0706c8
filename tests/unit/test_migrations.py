"""The Alembic chain builds exactly the schema `store/tables.py` declares."""

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select

from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events.types import ImpressionBatch, InteractionRecorded, list_head, served_list
from contextiq.store.engine import create_engine
from contextiq.store.migrate import alembic_config, migration_engine, upgrade, upgrade_async
from contextiq.store.online import list_key
from contextiq.store.store import Store
from contextiq.store.tables import Base, ContentRow, ImpressionRow, OutboxRow, ServedList
from contextiq.store.title_search import compared
from tests.integration.conftest import ADMIN_URL, fresh_pg_database
from tests.services import POSTGRES_HOST, POSTGRES_PORT, require

T = TypeVar("T")


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": compared})
        diff = compare_metadata(context, Base.metadata)
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


async def _read(url: str, read: Callable[[sa.Connection], T]) -> T:
    """What `read` finds through a connection of its own to `url`."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_dead_letters_table_comes_and_goes(migrated_url: str) -> None:
    """0008 adds `dead_letters`; its downgrade drops it and an upgrade brings it back."""
    url, config = migrated_url, alembic_config(migrated_url)

    async def tables() -> set[str]:
        return await _read(url, lambda c: set(sa.inspect(c).get_table_names()))

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
        found = await _read(url, lambda c: sa.inspect(c).get_indexes("processed_events"))
        return {str(index["name"]) for index in found}

    assert "ix_processed_events_processed_at" in await indexes()
    await asyncio.to_thread(command.downgrade, config, "0012_content_listing")
    assert "ix_processed_events_processed_at" not in await indexes()
    await upgrade_async(url)
    assert "ix_processed_events_processed_at" in await indexes()


async def test_training_count_comes_at_zero_and_goes(migrated_url: str) -> None:
    """0014 adds the shared training count, its one row at 0 (the workers of the previous
    version counted in memory); its downgrade drops it, an upgrade brings it back at 0."""
    url, config = migrated_url, alembic_config(migrated_url)

    def counted(conn: sa.Connection) -> tuple[object, ...] | None:
        if not sa.inspect(conn).has_table("training_count"):
            return None
        return tuple(conn.execute(sa.text("SELECT events, due_from FROM training_count")).one())

    async def count() -> tuple[object, ...] | None:
        return await _read(url, counted)

    assert await count() == (0, 0)
    store = Store(url)
    await store.round_completed(-3)  # a count other than 0
    await store.close()
    await asyncio.to_thread(command.downgrade, config, "0013_processed_events_age")
    assert await count() is None
    await upgrade_async(url)
    assert await count() == (0, 0)


async def test_title_search_index_is_built_from_stored_items_and_comes_and_goes(
    migrated_url: str,
) -> None:
    """0015 indexes titles for the listing's search: items stored before it are found through
    it (SQLite's FTS5 table is filled from them, PostgreSQL's GIN index built over them); its
    downgrade drops the index, an upgrade builds it again."""
    url, config = migrated_url, alembic_config(migrated_url)
    postgresql = url.startswith("postgresql")
    objects = (
        "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_content_search'"
        if postgresql
        else "SELECT name FROM sqlite_master WHERE name LIKE 'content\\_search%' ESCAPE '\\'"
    )

    async def search_objects() -> set[str]:
        return await _read(url, lambda c: set(c.scalars(sa.text(objects))))

    await asyncio.to_thread(command.downgrade, config, "0014_training_count")
    assert await search_objects() == set()
    engine = create_engine(url)  # the row as the code before 0015 wrote it
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(ContentRow.__table__).values(
                content_id="old",
                title="Kind of Blue",
                description="",
                category="music",
                tags=[],
                created_at=now,
                updated_at=now,
                metadata={},
            )
        )
    await engine.dispose()
    store = Store(url)
    try:
        await upgrade_async(url)
        built = "ix_content_search" if postgresql else "content_search"
        assert built in await search_objects()
        await store.upsert_content([Content("new", "Blue Train", "music")])
        found, total = await store.list_content(None, "BLUE", 10, 0)
        assert (sorted(c.content_id for c in found), total) == (["new", "old"], 2)
        assert [c.content_id for c in (await store.list_content(None, "of b", 10, 0))[0]] == ["old"]
    finally:
        await store.close()


@pytest.mark.integration
async def test_a_revision_that_fails_leaves_those_before_it_recorded() -> None:
    """0013 builds its index CONCURRENTLY, outside the run's transaction: when a later revision
    failed in the same run, the rollback took 0013's version stamp but not its index, and
    every run after stopped at 0013 ("already exists"). Each revision now commits alone."""
    async with fresh_pg_database() as url:
        config = alembic_config(url)
        await asyncio.to_thread(command.downgrade, config, "0012_content_listing")
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:  # what makes 0014 fail
                await conn.execute(sa.text("CREATE TABLE training_count (id integer)"))
            with pytest.raises(sa.exc.ProgrammingError, match="training_count"):
                await upgrade_async(url)
            async with engine.begin() as conn:
                version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
                assert version == "0013_processed_events_age"
                await conn.execute(sa.text("DROP TABLE training_count"))
            await upgrade_async(url)
            async with engine.connect() as conn:
                version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        finally:
            await engine.dispose()
    assert version == "0015_title_search"


async def test_a_sqlite_without_the_trigram_tokenizer_migrates_and_searches_by_scanning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Python 3.11 linked against a SQLite before 3.34 (Ubuntu 20.04's 3.31) has no trigram
    tokenizer: 0015 refusing there stopped `make run` at its first start. It now builds no
    table, says so, and the store's searches scan as before."""
    execute = Operations.execute

    def without_trigrams(
        self: Operations, sqltext: object, *args: object, **kwargs: object
    ) -> None:
        if "tokenize='trigram" in str(sqltext):
            no_tokenizer = sqlite3.OperationalError("no such tokenizer: trigram")
            raise sa.exc.OperationalError(str(sqltext), {}, no_tokenizer)
        execute(self, sqltext, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Operations, "execute", without_trigrams)
    url = f"sqlite+aiosqlite:///{tmp_path / 'old-sqlite.db'}"
    with caplog.at_level(logging.WARNING):
        await upgrade_async(url)
    assert any("catalogue search left unindexed" in m for m in caplog.messages)
    store = Store(url)
    try:
        await store.upsert_content([Content("a", "Kind of Blue", "music")])
        await store.upsert_content([Content("b", "Blue Train", "music")])
        assert (await store.list_content(None, "blue", 10, 0))[1] == 2
        assert await store.delete_content("a")
        found, total = await store.list_content(None, "BLUE", 10, 0)
        assert ([c.content_id for c in found], total) == (["b"], 1)
    finally:
        await store.close()


@pytest.mark.integration
async def test_a_role_that_may_not_create_pg_trgm_is_told_what_to_grant() -> None:
    """pg_trgm is a trusted extension: a role with CREATE on the database installs it. A role
    without fails 0015 saying what to grant, with the revisions before it recorded, and
    migrates once granted."""
    require(POSTGRES_HOST, POSTGRES_PORT, "PostgreSQL")
    suffix = uuid.uuid4().hex[:10]
    role, name = f"contextiq_role_{suffix}", f"contextiq_it_{suffix}"
    server = f"{POSTGRES_HOST}:{POSTGRES_PORT}"
    own_url = f"postgresql+asyncpg://postgres@{server}/{name}"
    role_url = f"postgresql+asyncpg://{role}@{server}/{name}"

    async def run(url: str, statement: str) -> str | None:
        engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.text(statement))
                return result.scalar() if result.returns_rows else None
        finally:
            await engine.dispose()

    try:
        await run(ADMIN_URL, f'CREATE ROLE "{role}" LOGIN')
        await run(ADMIN_URL, f'CREATE DATABASE "{name}"')
        await run(own_url, f'GRANT CREATE ON SCHEMA public TO "{role}"')
        with pytest.raises(RuntimeError, match="grant this role CREATE on the database"):
            await upgrade_async(role_url)
        assert await run(own_url, VERSION) == "0014_training_count"
        await run(ADMIN_URL, f'GRANT CREATE ON DATABASE "{name}" TO "{role}"')
        await upgrade_async(role_url)
        assert await run(own_url, VERSION) == "0015_title_search"
    finally:
        await run(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await run(ADMIN_URL, f'DROP ROLE IF EXISTS "{role}"')


VERSION = "SELECT version_num FROM alembic_version"
