"""Every backend of a kind runs the same suite: parametrized by the URL that opens it.

The embedded backends (memory://, disk://, local://) always run; Redis and Kafka (tansu) are the
real servers of tests/integration, so those cases carry the `integration` mark and its rules.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contextiq.cache import Cache, open_cache
from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import InteractionRecorded
from contextiq.store.records import OutboxEvent
from tests.integration.conftest import Broker, broker, free_port, redis_url

__all__ = ["broker", "redis_url"]  # fixtures the parametrized ones below ask for by name


USERS = ("u0", "u1", "u2", "u3", "u4")
START = datetime(2026, 1, 1, tzinfo=UTC)


def outbox(start: int, n: int) -> list[OutboxEvent]:
    """Rows as the relay hands them over: the wire payload of a typed event, keyed by user."""
    rows = []
    for i in range(start, start + n):
        event = InteractionRecorded(
            Interaction(
                event_id=f"e{i}",
                user_id=USERS[i % len(USERS)],
                content_id=f"c{i % 11}",
                interaction_type=InteractionType.LIKE,
                weight=3.0,
                occurred_at=START + timedelta(seconds=i),
            )
        )
        rows.append(OutboxEvent(id=i, key=event.key, payload=event.to_wire()))
    return rows


@pytest.fixture(params=["memory", "disk", pytest.param("redis", marks=pytest.mark.integration)])
async def cache(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cache]:
    url = {
        "memory": lambda: "memory://",
        "disk": lambda: f"disk://{tmp_path / 'cache.db'}",
        "redis": lambda: request.getfixturevalue("redis_url"),
    }[request.param]()
    opened = open_cache(url)
    try:
        yield opened
    finally:
        await opened.close()


class BusUrls:
    """Where a bus of one kind works, and where nothing can take its events."""

    def __init__(self, live: str, dead: str) -> None:
        self.live = live
        self.dead = dead


@pytest.fixture(params=["local", pytest.param("kafka", marks=pytest.mark.integration)])
def bus_urls(request: pytest.FixtureRequest) -> BusUrls:
    if request.param == "local":
        # In process, a bus without a running consumer is the one that cannot take events.
        return BusUrls("local://", "local://")
    running: Broker = request.getfixturevalue("broker")
    return BusUrls(
        running.url(topic=f"contract-{uuid.uuid4().hex[:8]}", partitions=3),
        f"kafka://127.0.0.1:{free_port()}?topic=nowhere",
    )
