"""Alembic environment: runs the same migrations on SQLite and PostgreSQL."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from contextiq.store.migrate import migration_engine
from contextiq.store.tables import Base
from contextiq.store.title_search import compared

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=compared,
        render_as_batch=connection.dialect.name == "sqlite",
        # Each revision commits with its version stamp: an index built CONCURRENTLY (outside
        # any transaction) stays built when a later revision fails, and so must its stamp,
        # or every later run stops at that revision ("already exists").
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = migration_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
