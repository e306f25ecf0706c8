"""A failed statement's error, which is logged, never carries its bound parameters."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from contextiq.store.engine import create_engine
from tests.integration.conftest import pg_url  # noqa: F401 (fixture)

USER = "user-named-in-an-error-41"


async def _error_of(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(text("SELECT * FROM no_such_table WHERE u = :u"), {"u": USER})
    finally:
        await engine.dispose()
    return str(raised.value)


async def test_sqlite_errors_hide_parameters(tmp_path: Path) -> None:
    message = await _error_of(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert "no_such_table" in message
    assert USER not in message


async def test_postgresql_errors_hide_parameters(pg_url: str) -> None:  # noqa: F811
    message = await _error_of(pg_url)
    assert "no_such_table" in message
    assert USER not in message
