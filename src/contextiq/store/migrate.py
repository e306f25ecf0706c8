"""Run Alembic migrations programmatically, so `contextiq` needs no alembic.ini."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from contextiq.store.engine import create_engine, normalize_url

MIGRATIONS = Path(__file__).with_name("migrations")


def migration_engine(database_url: str) -> AsyncEngine:
    """Without the requests' statement timeout: building an index on millions of rows takes
    longer than any request may, and a revision cut short is rolled back (each commits alone,
    migrations/env.py)."""
    return create_engine(database_url, statement_timeout_ms=0)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision`; safe to run on every start."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str) -> None:
    """The Alembic env runs its own event loop, so migrate from a worker thread."""
    await asyncio.to_thread(upgrade, database_url)
