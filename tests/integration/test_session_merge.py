"""A merge across processes: an API replica moves a session's rows, a separate worker consumes
`SessionMerged` from Kafka after the session's own events (same partition) and moves the
counters; PostgreSQL and Redis hold both subjects."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from contextiq.domain import session_subject
from contextiq.store.engine import create_engine
from tests.integration.conftest import (  # noqa: F401 (fixtures)
    Api,
    Broker,
    Worker,
    applied_interactions,
    broker,
    contextiq_env,
    eventually,
    pg_url,
    redis_url,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
USER, SESSION = "merge-kafka-user", "visit-kafka"


async def scalar(url: str, sql: str, **params: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text(sql), params) or 0)
    finally:
        await engine.dispose()


async def counters(url: str, subject: str) -> int:
    return await scalar(url, "SELECT sum(count) FROM user_stats WHERE user_id = :s", s=subject)


async def test_a_merge_reaches_the_worker_through_kafka(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    redis_url: str,  # noqa: F811
    broker: Broker,  # noqa: F811
) -> None:
    env = contextiq_env(
        tmp_path, database_url=pg_url, cache_url=redis_url, events_url=broker.url(partitions=4)
    )
    api, worker = Api(tmp_path, "api", env), Worker(tmp_path, "worker", env)
    await api.started()
    await worker.consuming()
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            events = [
                {"session_id": SESSION, "content_id": f"c{n}", "interaction_type": "like"}
                for n in range(10)
            ]
            response = await client.post(
                "/api/v1/interactions/batch", json={"interactions": events}
            )
            assert response.json()["accepted"] == 10

            async def applied(n: int) -> bool:
                return await applied_interactions(pg_url) == n

            await eventually(lambda: applied(10), 60, "the worker to apply the visit")
            assert await counters(pg_url, session_subject(SESSION)) == 10
            visit = await client.get("/api/v1/recommendations", params={"session_id": SESSION})
            assert visit.json()["session_id"] == SESSION

            response = await client.post(
                f"/api/v1/users/{USER}/merge", json={"session_id": SESSION}
            )
            assert response.json()["moved"] == 10
            profile = (await client.get(f"/api/v1/user-profile/{USER}")).json()
            assert profile["counts"]["like"] == 10  # at once: the rows moved

            async def moved() -> bool:
                return await counters(pg_url, USER) == 10

            await eventually(moved, 30, "the worker to move the counters")
            assert await counters(pg_url, session_subject(SESSION)) == 0
            assert await applied(11)
            again = await client.post(f"/api/v1/users/{USER}/merge", json={"session_id": SESSION})
            assert again.json()["moved"] == 0
            merges = "SELECT count(*) FROM outbox WHERE payload->>'type' = 'session_merged'"
            assert await scalar(pg_url, merges) == 1  # the repeat wrote nothing
    finally:
        worker.stop()
        api.stop()
