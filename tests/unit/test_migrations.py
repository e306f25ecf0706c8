"""The Alembic chain builds exactly the schema `store/tables.py` declares."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from contextiq.store.migrate import upgrade
from contextiq.store.tables import Base


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
