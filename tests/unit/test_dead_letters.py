"""Poison events go to the dead letters after N failed deliveries; delivery goes on; replay.

On the in-process bus, with the real relay, store and event processor: a poison event is an
interaction whose weight would make its item's popularity infinite (no setting gives one),
written to the outbox as an older version or a direct write would.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from contextiq.api.app import create_app
from contextiq.api.schemas import HeldData
from contextiq.cache.memory import MemoryCache
from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events import types
from contextiq.events.local import LocalBus
from contextiq.events.relay import OutboxRelay
from contextiq.events.types import (
    EVENT_TYPES,
    Event,
    ImpressionBatch,
    InteractionRecorded,
    UserDeleted,
)
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.services import Services
from contextiq.store.dead_letters import (
    DeadLetterStore,
    UnknownDeadLetters,
    UnreadableDeadLetters,
)
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import OutboxRow, ProcessedEvent, UserStats
from contextiq.worker.dead_letters import DeadLetterGuard
from contextiq.worker.processor import EventProcessor, Retrainer
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_pg_database
from tests.unit.test_store import store  # noqa: F401 (fixture: SQLite and PostgreSQL)

AFTER = 3
NOW = datetime(2026, 6, 1, tzinfo=UTC)
POISON_WEIGHT = 1e308


def click(event_id: str, user: str = "u1", weight: float = 3.0) -> Interaction:
    return Interaction(event_id, user, "c1", InteractionType.LIKE, weight, NOW)


def poison(event_id: str) -> Interaction:
    return click(event_id, weight=POISON_WEIGHT)


async def applied(db: Store) -> tuple[set[str], int]:
    """The ids the worker applied, and how many likes it counted for u1 (exactly once each)."""
    async with db.sessions() as session:
        ids = set(await session.scalars(select(ProcessedEvent.event_id)))
        likes = await session.scalar(select(UserStats.count).where(UserStats.user_id == "u1"))
    return ids, likes or 0


def dead_lettered(kind: str) -> float:
    value = REGISTRY.get_sample_value("contextiq_events_dead_lettered_total", {"type": kind})
    return value or 0.0


def unidentified() -> float:
    return REGISTRY.get_sample_value("contextiq_events_unidentified_total") or 0.0


def newer(event: Event) -> dict[str, Any]:
    """`event` as a newer version writes it: a schema version this one cannot read."""
    return event.to_wire() | {"schema_version": types.SCHEMA_VERSION + 1}


async def write_outbox(db: Store, *payloads: Any) -> None:
    """Outbox rows as another version (or a damaged write) left them."""
    async with db.sessions.begin() as session:
        session.add_all(
            OutboxRow(event_id=f"raw-{n}", key="u1", payload=p, created_at=utcnow())
            for n, p in enumerate(payloads)
        )


@dataclass
class Pipeline:
    store: Store
    relay: OutboxRelay
    guard: DeadLetterGuard
    letters: DeadLetterStore

    async def deliver(self) -> int:
        """Drain until a delivery succeeds; returns how many deliveries failed first."""
        for failed in range(AFTER):
            try:
                await self.relay.drain_once()
                return failed
            except ValueError:
                continue
        raise AssertionError(f"still failing after {AFTER} deliveries")


@pytest.fixture
async def pipeline(store: Store) -> AsyncIterator[Pipeline]:  # noqa: F811
    await store.upsert_content([Content("c1", "Title", "news")])
    bus = LocalBus()
    processor = EventProcessor(
        store,
        RecommendationCache(MemoryCache(), 60),
        Retrainer(lambda: asyncio.sleep(0), store, 0, 0),
    )
    letters = DeadLetterStore(store)
    guard = DeadLetterGuard(processor.handle, letters, AFTER)
    consumer = asyncio.create_task(bus.consume(guard))
    await asyncio.sleep(0)
    try:
        yield Pipeline(store, OutboxRelay(store, bus), guard, letters)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)


async def test_a_poison_event_is_set_aside_and_the_rest_applied_once(pipeline: Pipeline) -> None:
    db, before = pipeline.store, dead_lettered("interaction")
    await db.record_interactions([click("good-1"), poison("poison")])
    await db.record_interactions([click("good-2"), poison("poison-2")])
    assert await pipeline.deliver() == AFTER - 1
    assert await applied(db) == ({"good-1", "good-2"}, 2)
    assert await db.pending_outbox() == 0
    letter, second = await pipeline.letters.listed(10)
    assert second.event_id == "poison-2"
    assert (letter.event_id, letter.event_type, letter.user_id) == ("poison", "interaction", "u1")
    assert letter.failures == AFTER and letter.error.startswith("ValueError")
    assert letter.first_failed_at <= letter.last_failed_at
    assert letter.payload["weight"] == POISON_WEIGHT
    assert dead_lettered("interaction") == before + 2
    # Delivery goes on: the next event is applied at its first delivery.
    await db.record_interactions([click("good-3")])
    assert await pipeline.deliver() == 0
    assert await applied(db) == ({"good-1", "good-2", "good-3"}, 3)


async def test_a_replayed_event_is_applied_the_normal_way(pipeline: Pipeline) -> None:
    """A dead letter of an event that applies now (the fault was fixed) is applied once and
    goes; one that fails again comes back as a dead letter."""
    db, letters = pipeline.store, pipeline.letters
    await db.record_interactions([click("fixed"), poison("poison")])
    assert await pipeline.deliver() == AFTER - 1  # "fixed" applied here
    fixed = InteractionRecorded(click("fixed-later"))
    await db.record_interactions([fixed.interaction])
    await letters.record(fixed, "RuntimeError: since fixed", AFTER, utcnow())
    stored = [letter.id for letter in await letters.listed(10)]
    with pytest.raises(UnknownDeadLetters) as unknown:
        await letters.replay([stored[0], 10_000])
    assert unknown.value.ids == [10_000] and len(await letters.listed(10)) == 2  # none replayed
    assert await letters.replay_all() == (2, [])
    assert await letters.listed(10) == []
    assert await pipeline.deliver() == AFTER - 1
    assert await applied(db) == ({"fixed", "fixed-later"}, 2)
    [again] = await letters.listed(10)
    assert again.event_id == "poison" and again.failures == AFTER


async def test_an_event_this_version_cannot_read_waits_for_one_that_can(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a rolling upgrade an older worker meets a newer version's events: each is set
    aside as sent, and the newer version replays it; old code skipped it for good. A record
    that names no event id (or one longer than any) can be neither, and is counted as it is
    dropped."""
    db, letters = pipeline.store, pipeline.letters
    before, dropped = dead_lettered("unreadable"), unidentified()
    later = newer(InteractionRecorded(click("newer")))
    await db.record_interactions([click("good-1"), click("newer")])
    async with db.sessions.begin() as session:  # its outbox row as the newer API wrote it
        await session.execute(
            update(OutboxRow).where(OutboxRow.event_id == "newer").values(payload=later)
        )
    await write_outbox(db, {"type": "interaction"}, {"type": "teleport", "event_id": "x" * 129})
    await db.record_interactions([click("good-2")])
    assert await pipeline.deliver() == 0
    assert await applied(db) == ({"good-1", "good-2"}, 2)
    [letter] = await letters.listed(10)
    assert (letter.event_id, letter.event_type, letter.user_id) == ("newer", "interaction", "u1")
    assert letter.payload == later and letter.failures == 1
    assert letter.error.startswith("UnknownEvent: cannot decode event type 'interaction'")
    assert (dead_lettered("unreadable"), unidentified()) == (before + 1, dropped + 2)
    # Replayed by a version that cannot read it either, it would only come back: refused
    # by id; left by --all, which replays the readable dead letters behind it all the same.
    with pytest.raises(UnreadableDeadLetters) as unreadable:
        await letters.replay([letter.id])
    assert unreadable.value.ids == [letter.id]
    behind = InteractionRecorded(click("behind"))
    await db.record_interactions([behind.interaction])
    await letters.record(behind, "RuntimeError: since fixed", AFTER, utcnow())
    assert await letters.replay_all() == (1, [letter.id])
    assert [d.event_id for d in await letters.listed(10)] == ["newer"]
    assert await pipeline.deliver() == 0

    monkeypatch.setattr(types, "SCHEMA_VERSION", types.SCHEMA_VERSION + 1)  # the newer version
    assert await letters.replay([letter.id]) == 1
    assert await pipeline.deliver() == 0
    assert await applied(db) == ({"good-1", "good-2", "behind", "newer"}, 4)
    assert await letters.listed(10) == []


async def test_erasure_reaches_dead_letters_this_version_cannot_read(store: Store) -> None:  # noqa: F811
    """By the user an unreadable event names; a batch it cannot narrow to one user goes whole
    once its text names them, and their export shows only its envelope."""
    letters = DeadLetterStore(store)
    guard = DeadLetterGuard(lambda events: asyncio.sleep(0), letters, AFTER)
    listing = '[[["c1", 0.5]], "v1", null, null, null]'
    batch = ImpressionBatch.of([("r1", "gone", listing, 1), ("r2", "stays", listing, 2)], "b")
    await guard(
        types.decode_events(
            [
                newer(InteractionRecorded(click("theirs", user="gone"))),
                newer(InteractionRecorded(click("kept", user="stays"))),
                newer(batch),
                newer(ImpressionBatch.of([("r3", "stays", listing, 3)], "b-kept")),
            ]
        )
    )
    export = await store.user_export("gone")
    assert [(d["event_id"], d["event"]) for d in export["dead_letters"]] == [
        ("theirs", newer(InteractionRecorded(click("theirs", user="gone")))),
        ("b", {"type": "impressions", "schema_version": types.SCHEMA_VERSION + 1, "event_id": "b"}),
    ]
    assert HeldData.model_validate(export)
    removed = await store.delete_user(UserDeleted("erasure-1", "gone", NOW + timedelta(days=1)))
    assert removed["dead_letters"] == 2
    assert {letter.event_id for letter in await letters.listed(10)} == {"kept", "b-kept"}


async def test_only_a_failure_of_the_event_itself_sets_it_aside(store: Store) -> None:  # noqa: F811
    """A database that is unreachable fails every event alike: the batch comes again."""
    delivered: list[list[Event]] = []

    async def unreachable(events: list[Event]) -> None:
        delivered.append(events)
        raise ConnectionRefusedError("the database is down")

    guard = DeadLetterGuard(unreachable, DeadLetterStore(store), 1)
    with pytest.raises(ConnectionRefusedError):
        await guard([InteractionRecorded(click("e1")), InteractionRecorded(click("e2"))])
    assert len(delivered) == 2 and guard.failures == 1  # the batch, then its first event alone
    assert await DeadLetterStore(store).listed(10) == []


@pytest.mark.integration
async def test_a_statement_stopped_by_its_timeout_sets_nothing_aside() -> None:
    """A slow database, or a lock held past the statement timeout, stops every event alike:
    the batch comes again instead of healthy events going to the dead letters."""
    async with fresh_pg_database() as url:
        db = Store(url)
        try:

            async def slow(events: list[Event]) -> None:
                async with db.sessions.begin() as session:
                    await session.execute(text("SET LOCAL statement_timeout = '10ms'"))
                    await session.execute(text("SELECT pg_sleep(1)"))

            guard = DeadLetterGuard(slow, DeadLetterStore(db), 1)
            with pytest.raises(DBAPIError):
                await guard([InteractionRecorded(click("e1")), InteractionRecorded(click("e2"))])
            assert await DeadLetterStore(db).listed(10) == []
        finally:
            await db.close()


async def test_erasure_removes_the_users_dead_letters(store: Store) -> None:  # noqa: F811
    letters = DeadLetterStore(store)
    listing = '[[["c1", 0.5]], "v1", null, null, null]'
    for event in (
        InteractionRecorded(click("theirs", user="gone")),
        InteractionRecorded(click("kept", user="stays")),
        ImpressionBatch.of([("r1", "gone", listing, 1), ("r2", "stays", listing, 2)], "b-both"),
        ImpressionBatch.of([("r3", "gone", listing, 3)], "b-theirs"),
    ):
        await letters.record(event, "ValueError: poison", AFTER, NOW)
    removed = await store.delete_user(UserDeleted("erasure-1", "gone", NOW + timedelta(days=1)))
    assert removed["dead_letters"] == 3
    left = {letter.event_id: letter for letter in await letters.listed(10)}
    assert set(left) == {"kept", "b-both"}
    assert [row[1] for row in left["b-both"].payload["shown"]] == ["stays"]


async def test_erasures_applied_together_each_leave_a_dead_batch(store: Store) -> None:  # noqa: F811
    """The worker applies several erasures in one transaction: the second reads the batch as
    the first left it, and does not write the first one's impressions back."""
    listing = '[[["c1", 0.5]], "v1", null, null, null]'
    shown = [("r1", "one", listing, 1), ("r2", "two", listing, 2), ("r3", "stays", listing, 3)]
    await DeadLetterStore(store).record(ImpressionBatch.of(shown, "b"), "ValueError", AFTER, NOW)
    await store.apply_events([UserDeleted("d1", "one", NOW), UserDeleted("d2", "two", NOW)])
    [letter] = await DeadLetterStore(store).listed(10)
    assert [row[1] for row in letter.payload["shown"]] == ["stays"]


async def test_the_users_dead_letters_are_in_their_export(store: Store) -> None:  # noqa: F811
    """Each as sent, with why and when it failed. Of an impression batch, only their own
    impressions and lists, and not the batch's error: it may quote the others in it."""
    letters = DeadLetterStore(store)
    theirs = InteractionRecorded(click("theirs", user="asks"))
    listing = '[[["c1", 0.5]], "v1", null, null, null]'
    not_shown_to_them = '[[["c9", 0.4]], null, null, null, null]'
    shared = ImpressionBatch.of(
        [("r1", "asks", listing, 1), ("r2", "other", not_shown_to_them, 2)], "b"
    )
    for event, error in (
        (theirs, "OverflowError: math range error"),
        (InteractionRecorded(click("not-theirs", user="other")), "ValueError: poison"),
        (shared, "IntegrityError: (r2, other)"),
    ):
        await letters.record(event, error, AFTER, NOW)
    export = await store.user_export("asks")
    own, batch = export["dead_letters"]
    assert (own["event_id"], own["event_type"]) == ("theirs", "interaction")
    assert own["event"] == theirs.to_wire() and own["first_failed_at"] == NOW.isoformat()
    assert (own["error"], own["failures"]) == ("OverflowError: math range error", AFTER)
    assert (batch["event_id"], batch["event_type"], batch["error"]) == ("b", "impressions", None)
    assert batch["event"] == ImpressionBatch.of([("r1", "asks", listing, 1)], "b").to_wire()
    assert "other" not in str(export) and "c9" not in str(export)
    assert HeldData.model_validate(export).dead_letters[1].error is None


def test_the_embedded_worker_sets_a_poison_event_aside(tmp_path: Path) -> None:
    """`serve` on local:// events: the consumer it starts is the guarded one, with the
    setting's number of failures."""
    settings = embedded_settings(tmp_path, dead_letter_after_failures=2)
    with TestClient(create_app(settings)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        assert client.portal is not None
        portal, db = client.portal, services.store
        portal.call(db.upsert_content, [Content("c1", "Title", "news")])
        portal.call(db.record_interactions, [poison("poison"), click("good")])
        services.relay.nudge()
        letters = DeadLetterStore(db)
        deadline = time.monotonic() + 30
        while not portal.call(letters.listed, 10) and time.monotonic() < deadline:
            time.sleep(0.1)
        [letter] = portal.call(letters.listed, 10)
        assert (letter.event_id, letter.failures) == ("poison", 2)
        assert portal.call(applied, db) == ({"good"}, 1)


def test_every_event_type_has_its_series_from_the_start() -> None:
    """rate() counts nothing for the step from absent to 1: the first dead letter of a type
    would not fire the alert, and a type's first applied events would not show."""
    assert dead_lettered("unreadable") is not None
    for kind in EVENT_TYPES:
        labels = {"type": kind}
        assert REGISTRY.get_sample_value("contextiq_events_dead_lettered_total", labels) is not None
        applied = REGISTRY.get_sample_value("contextiq_events_applied_total", labels)
        assert (applied is None) == (kind == ImpressionBatch.type)  # counted as its impressions
