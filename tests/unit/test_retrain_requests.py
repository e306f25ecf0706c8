"""`POST /models/retrain` asks a worker for a round through the outbox; the API process that
took the request never trains (its memory is sized for serving, a round's is not)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cache import open_cache
from contextiq.cli.bootstrap import bootstrap
from contextiq.events.types import RetrainRequested, decode_event
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.services import Services
from contextiq.store.exclusive import is_held
from contextiq.store.store import Store, utcnow
from contextiq.worker.processor import EventProcessor, Retrainer
from contextiq.worker.training import TRAINING_LOCK, request_round, training_turn
from tests.conftest import embedded_settings, stored_events

ADMIN = {"X-API-Key": "admin-secret"}


def test_an_api_process_that_does_not_consume_queues_the_round_and_never_trains(
    tmp_path: Path,
) -> None:
    # Old code trained inside the answering API process (`retrainer.request()`): on Kafka,
    # a serving replica with a 3 Gi limit ran a round that needs 4 GiB at 5,000,000 events.
    settings = embedded_settings(tmp_path, admin_key=ADMIN["X-API-Key"])
    bootstrap(settings, lambda _: None, demo_items=40, demo_users=8)
    with TestClient(create_app(settings, embedded_worker=False)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        rounds: list[int] = []

        async def train() -> None:
            rounds.append(1)

        services.retrainer._train = train  # what a round in this process would run
        response = client.post("/api/v1/models/retrain", headers=ADMIN)
        assert response.status_code == 202
        assert rounds == [] and not services.retrainer.training
        assert response.json() == {"status": "requested"}
        # It reads the workers' count, where old code, counting none, answered null.
        events = client.portal.call(stored_events, services.store, 3)
        client.portal.call(services.store.apply_events, events)  # as a worker applies them
        assert client.get("/api/v1/models").json()["events_since_training"] == 3
        queued = client.portal.call(_queued, services.store)
        assert rounds == []
    assert [type(e) for e in queued] == [RetrainRequested]


async def _queued(store: Store) -> list[object]:
    async with store.claim_outbox(100) as rows:
        events = [decode_event(row.payload) for row in rows]
    return [e for e in events if isinstance(e, RetrainRequested)]


async def test_a_worker_starts_one_round_per_request_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    rounds: list[int] = []

    async def train() -> None:
        rounds.append(1)

    retrainer = Retrainer(train, store, 0, 0)
    processor = EventProcessor(
        store, RecommendationCache(open_cache("memory://", 10), 60), retrainer
    )
    request = RetrainRequested("r-1", utcnow())
    await processor.handle([request])
    assert retrainer._task is not None
    await retrainer._task
    await processor.handle([request])  # delivered again: applied once
    assert rounds == [1]
    assert "training round: an admin asked (POST /models/retrain)" in caplog.messages


async def test_a_request_while_a_training_runs_queues_nothing(
    store: Store, migrated_url: str
) -> None:
    other = Store(migrated_url)  # another process, as `contextiq train` would be
    try:
        async with training_turn(other) as mine:
            assert mine
            # Old code could not see another process's lock file on SQLite (None here), so a
            # request process of `serve --workers N` said `training: false` during a round.
            assert await is_held(store.engine, TRAINING_LOCK) is True
            assert not await request_round(store, own=False)
            assert await store.pending_outbox() == 0
        assert await is_held(store.engine, TRAINING_LOCK) is False
        assert await request_round(store, own=False)
        assert await store.pending_outbox() == 1
    finally:
        await other.close()


async def test_a_round_says_what_started_it(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """Old code's first line of a round was its sizes: not whether an admin, the event count
    or the clock had started minutes of training."""

    async def train() -> None:
        return None

    retrainer = Retrainer(train, store, 3, 0)
    retrainer.counted(await store.apply_events(await stored_events(store, 3)))
    assert retrainer._task is not None
    await retrainer._task
    assert "training round: 3 events applied since the last round" in caplog.messages
