"""The worker forgets the dedupe's ids past their window, from its start and then every round."""

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from contextiq.services import build_services
from contextiq.store.store import utcnow
from contextiq.store.tables import ProcessedEvent
from contextiq.worker.periodic import repeat
from tests.conftest import embedded_settings, until


async def test_a_worker_purges_the_ids_applied_before_the_dedupe_window(
    migrated_url: str, tmp_path: Path
) -> None:
    """What `contextiq worker` starts (`Services.start` with the consumer) purges: ids
    applied 20 days ago go under a 15-day window, one applied an hour ago stays."""
    settings = embedded_settings(tmp_path, database_url=migrated_url, dedupe_window_days=15)
    services = build_services(settings)
    now = utcnow()
    async with services.store.sessions.begin() as session:
        await session.execute(
            insert(ProcessedEvent),
            [{"event_id": f"old{n}", "processed_at": now - timedelta(days=20)} for n in range(3)]
            + [{"event_id": "recent", "processed_at": now - timedelta(hours=1)}],
        )

    async def kept() -> set[str]:
        async with services.store.sessions() as session:
            return set(await session.scalars(select(ProcessedEvent.event_id)))

    try:
        await services.start(relay=False, consume=True, serves_requests=False)
        deadline = asyncio.get_running_loop().time() + 5
        while (ids := await kept()) != {"recent"}:
            assert asyncio.get_running_loop().time() < deadline, f"left: {sorted(ids)}"
            await asyncio.sleep(0.02)
    finally:
        await services.stop()


async def test_a_failed_round_is_retried_at_the_next() -> None:
    """The database away for one round stops nothing: the next round runs the job again."""
    calls: list[int] = []

    async def job() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise ConnectionError("database away")

    task = asyncio.create_task(repeat(job, timedelta(milliseconds=10), "test job"))
    try:
        await until(lambda: len(calls) >= 3)
    finally:
        task.cancel()
