"""`Store.exclusively` on PostgreSQL: one holder across processes, released with the block."""

import pytest
from sqlalchemy import text

from contextiq.store.store import Store
from tests.integration.conftest import fresh_pg_database

pytestmark = pytest.mark.integration


async def test_one_holder_at_a_time_and_its_session_stays_idle() -> None:
    async with fresh_pg_database() as url:
        a, b = Store(url), Store(url)
        try:
            async with a.exclusively("training") as first:
                assert first
                async with b.exclusively("training") as second:
                    assert not second
                async with b.exclusively("another name") as other:
                    assert other
                # Held across a long training: not "idle in transaction", which the
                # server ends after idle_in_transaction_session_timeout.
                async with b.engine.connect() as conn:
                    states = await conn.execute(
                        text(
                            "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a"
                            " USING (pid) WHERE l.locktype = 'advisory'"
                            " AND a.datname = current_database()"
                        )
                    )
                    assert [s for (s,) in states] == ["idle"]
            async with b.exclusively("training") as after:
                assert after
        finally:
            await a.close()
            await b.close()
