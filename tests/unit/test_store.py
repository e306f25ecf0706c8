"""The store's contract, on SQLite and on PostgreSQL through the same migrations."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events.types import decode_events
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.integration.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        await upgrade_async(url)
        s = Store(url)
        yield s
        await s.close()
        return
    async with fresh_pg_database() as url:
        s = Store(url)
        try:
            yield s
        finally:
            await s.close()


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _content(n: int, category: str = "music") -> Content:
    return Content(
        f"c{n}", f"Title {n}", category, tags=("a", "b"), created_at=NOW - timedelta(days=n)
    )


def _event(n: int, user: str, item: str, kind: InteractionType, weight: float = 1.0) -> Interaction:
    return Interaction(f"e{n}", user, item, kind, weight, NOW + timedelta(minutes=n))


async def test_content_upsert_list_and_delete(store: Store) -> None:
    await store.upsert_content([_content(n, "music" if n % 2 else "art") for n in range(10)])
    await store.upsert_content([Content("c1", "Renamed", "music", created_at=NOW)])
    assert (await store.get_content("c1")).title == "Renamed"  # type: ignore[union-attr]
    items, total = await store.list_content("art", None, 3, 0)
    assert total == 5
    assert [c.content_id for c in items] == ["c0", "c2", "c4"]
    assert (await store.list_content(None, "renamed", 10, 0))[1] == 1
    assert await store.categories() == [("art", 5), ("music", 5)]
    assert await store.delete_content("c1")
    assert not await store.delete_content("c1")
    assert await store.existing_content_ids(["c1", "c2", "zz"]) == {"c2"}


async def test_interactions_are_idempotent_and_outboxed(store: Store) -> None:
    await store.upsert_content([_content(1), _content(2)])
    first = await store.record_interactions(
        [_event(1, "u", "c1", InteractionType.LIKE), _event(1, "u", "c1", InteractionType.LIKE)]
    )
    again = await store.record_interactions([_event(1, "u", "c1", InteractionType.LIKE)])
    assert (first.accepted, first.duplicates) == (["e1"], ["e1"])
    assert (again.accepted, again.duplicates) == ([], ["e1"])
    assert await store.pending_outbox() == 1
    async with store.claim_outbox(10) as events:
        assert [e.payload["event_id"] for e in events] == ["e1"]
        assert events[0].key == "u"
    assert await store.pending_outbox() == 0


async def test_failed_publish_leaves_events_pending(store: Store) -> None:
    await store.upsert_content([_content(1)])
    await store.record_interactions([_event(1, "u", "c1", InteractionType.VIEW)])
    with pytest.raises(RuntimeError):
        async with store.claim_outbox(10):
            raise RuntimeError("broker down")
    assert await store.pending_outbox() == 1


async def test_applied_events_count_once_in_profile_and_popularity(store: Store) -> None:
    await store.upsert_content([_content(1), _content(2, "art")])
    events = [
        _event(1, "u", "c1", InteractionType.LIKE, 3.0),
        _event(2, "u", "c2", InteractionType.VIEW, 1.0),
        _event(3, "u", "c2", InteractionType.DISLIKE, -4.0),
    ]
    await store.record_interactions(events)
    async with store.claim_outbox(10) as batch:
        delivered = decode_events(e.payload for e in batch)
    assert len(await store.apply_events(delivered)) == 3
    assert await store.apply_events(delivered) == []  # redelivery changes nothing
    profile = await store.user_profile("u")
    assert profile.counts == {"like": 1, "view": 1, "dislike": 1}
    assert profile.first_seen == NOW + timedelta(minutes=1)
    assert profile.last_seen == NOW + timedelta(minutes=3)
    assert [r.content_id for r in profile.recent] == ["c2", "c2", "c1"]
    assert profile.top_categories == [("art", 1), ("music", 1)]
    popular = await store.popular_content(10, None)
    assert [c.content_id for c, _ in popular] == ["c1", "c2"]
    history = await store.user_history("u")
    assert history.weights == {"c1": 3.0, "c2": -3.0}
    assert list(history.weights) == ["c1", "c2"]  # oldest first, by each item's latest event
    assert history.recent_positive == ["c2", "c1"]


async def test_interactions_stream_in_order(store: Store) -> None:
    await store.upsert_content([_content(1)])
    await store.record_interactions(
        [_event(n, f"u{n % 3}", "c1", InteractionType.VIEW) for n in range(25)]
    )
    batches = [b async for b in store.iter_interactions(batch=10)]
    assert [len(b) for b in batches] == [10, 10, 5]
