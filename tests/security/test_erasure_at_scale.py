"""Erasure across processes: an API replica takes the DELETE, a separate worker consumes the
`UserDeleted` event from Kafka; PostgreSQL and Redis end with nothing naming the user."""

from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import MetaData

from contextiq.recommend.response_cache import user_key
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
USER = "erase-me-kafka"
ADMIN = {"Authorization": "Bearer erasure-admin-key"}


async def rows_naming(url: str, needle: str) -> list[str]:
    engine = create_engine(url)
    found = []
    try:
        async with engine.connect() as conn:
            meta = MetaData()
            await conn.run_sync(meta.reflect)
            for table in meta.sorted_tables:
                for row in (await conn.execute(table.select())).all():
                    if needle in str(tuple(row)):
                        found.append(f"{table.name}: {tuple(row)}")
    finally:
        await engine.dispose()
    return found


async def test_a_deletion_reaches_the_worker_through_kafka(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    redis_url: str,  # noqa: F811
    broker: Broker,  # noqa: F811
) -> None:
    env = contextiq_env(
        tmp_path,
        database_url=pg_url,
        cache_url=redis_url,
        events_url=broker.url(partitions=4),
        admin_key=ADMIN["Authorization"].split()[1],
    )
    api, worker = Api(tmp_path, "api", env), Worker(tmp_path, "worker", env)

    await api.started()
    await worker.consuming()
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            events = [
                {
                    "event_id": f"{user}-{n}",
                    "user_id": user,
                    "content_id": f"c{n}",
                    "interaction_type": "like",
                }
                for n in range(20)
                for user in (USER, "keeper")
            ]
            response = await client.post(
                "/api/v1/interactions/batch", json={"interactions": events}
            )
            assert response.json()["accepted"] == 40

            async def applied() -> bool:
                # Profiles read the interactions table (read-your-own-write), so they cannot
                # tell whether the worker consumed the events yet: its own table can.
                return await applied_interactions(pg_url) == 40

            await eventually(applied, 60, "the worker to apply the interactions")
            cache = redis.Redis.from_url(redis_url)
            lists = f"recs:{user_key(USER)}:*"  # keys name users by a digest

            async def cached() -> bool:
                # The worker bumps the user's generation just after its rows are visible; a list
                # computed before that bump is not stored, so ask again until one is.
                await client.get("/api/v1/recommendations", params={"user_id": USER})
                return bool(cache.keys(lists))

            await eventually(cached, 30, "the user's list to be cached")
            assert not [k for k in cache.keys("*") if USER.encode() in k]

            response = await client.delete(f"/api/v1/users/{USER}", headers=ADMIN)
            assert response.status_code == 200, response.text
            assert response.json()["removed"]["interactions"] == 20

            async def forgotten() -> bool:
                return not await rows_naming(pg_url, USER)

            try:
                await eventually(forgotten, 30, "every table to forget the user")
            except AssertionError as exc:
                raise AssertionError(await rows_naming(pg_url, USER)) from exc
            assert not cache.keys(lists)
            keeper = (await client.get("/api/v1/user-profile/keeper")).json()
            assert keeper["total"] == 20

        async def erasure_applied() -> bool:
            # The keeper's 20 events and the erasure itself.
            return await applied_interactions(pg_url) == 21

        await eventually(erasure_applied, 30, "the worker to apply the deletion")
    finally:
        worker.stop()
        api.stop()
