"""Impressions and attributed clicks survive a worker killed mid-stream, counted once.

Real processes as in test_faults.py: `contextiq serve` and `contextiq worker` on PostgreSQL,
Redis (cached answers are impressions too) and a tansu broker with four partitions.
"""

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Api, Broker, Worker, contextiq_env, count_rows, eventually
from tests.integration.test_faults import pending

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ADMIN = {"X-Admin-Key": "fault-admin"}
CLICK_ROWS = "WHERE event_id LIKE 'click-%'"


async def user_session(client: httpx.AsyncClient, user: str, rng: random.Random) -> list[str]:
    """Ask twice (a fresh list, then a cached copy), maybe click: returns the click's event ids."""
    params = {"user_id": user, "limit": 5}
    first = await client.get("/api/v1/recommendations", params=params)
    second = await client.get("/api/v1/recommendations", params=params)
    assert first.status_code == second.status_code == 200, second.text
    answer = second.json()
    # Usually a cached copy (unless the cache missed under load): its own id either way.
    assert answer["recommendation_id"] != first.json()["recommendation_id"]
    if rng.random() < 0.5:
        return []
    event_id = f"click-{user}"
    click = {
        "event_id": event_id,
        "user_id": user,
        "content_id": answer["items"][rng.randrange(len(answer["items"]))]["content_id"],
        "interaction_type": "view",
    }
    if rng.random() < 0.5:  # the rest is attributed through the window
        click["recommendation_id"] = answer["recommendation_id"]
    for _ in range(2):  # sent twice, as a retrying client would: counted once
        posted = await client.post("/api/v1/interact", json=click)
        assert posted.status_code == 202, posted.text
    return [event_id]


async def test_worker_killed_mid_stream_counts_impressions_and_clicks_once(
    tmp_path: Path, pg_url: str, redis_url: str, broker: Broker
) -> None:
    env = contextiq_env(
        tmp_path,
        database_url=pg_url,
        cache_url=redis_url,
        events_url=broker.url(partitions=4),
        admin_key=ADMIN["X-Admin-Key"],
    )
    api, worker = Api(tmp_path, "api", env), Worker(tmp_path, "worker", env)
    await asyncio.gather(api.started(), worker.consuming())
    users = [f"fault-{n}" for n in range(600)]
    clicks: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            arms = [{"name": "control"}, {"name": "treatment", "config": {"ml_weight": 0.3}}]
            created = await client.post(
                "/api/v1/experiments", json={"name": "faults", "arms": arms}, headers=ADMIN
            )
            assert created.status_code == 201, created.text

            async def sessions(share: list[str], seed: int) -> None:
                rng = random.Random(seed)
                for user in share:
                    clicks.extend(await user_session(client, user, rng))

            stream = asyncio.gather(*(sessions(users[k::6], k) for k in range(6)))

            async def some_stored() -> bool:
                return await count_rows(pg_url, "impressions") >= 200

            await eventually(some_stored, 90, "the worker to store 200 impressions")
            worker.kill()
            assert not stream.done(), "the worker must die while answers are still served"
            worker.start()
            await stream

            async def all_applied() -> bool:
                return (
                    await pending(pg_url) == 0
                    and await count_rows(pg_url, "impressions") == 2 * len(users)
                    # Impression batches are deduplicated there too, by their own ids.
                    and await count_rows(pg_url, "processed_events", CLICK_ROWS) == len(clicks)
                )

            await eventually(all_applied, 120, "every impression and click after the restart")
            report = (await client.get("/api/v1/experiments/faults")).json()
        assert sum(a["impressions"] for a in report["arms"]) == 2 * len(users)
        assert sum(a["clicks"] for a in report["arms"]) == len(clicks)
        assert sum(a["users"] for a in report["arms"]) == len(users)
        assert await count_rows(pg_url, "impressions", "WHERE clicked IS NOT NULL") == len(clicks)
    finally:
        worker.stop()
        api.stop()
