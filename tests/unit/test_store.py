"""The store's contract, on SQLite and on PostgreSQL through the same migrations."""

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from contextiq.api.schemas import HeldData
from contextiq.domain import Content, Interaction, InteractionType, session_subject
from contextiq.events.types import (
    ImpressionBatch,
    ImpressionRecorded,
    ImpressionSeen,
    InteractionRecorded,
    SessionMerged,
    UserDeleted,
    decode_events,
    served_list,
)
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.store import experiments as experiments_module
from contextiq.store import store as store_module
from contextiq.store import title_search
from contextiq.store.bulk import BulkLoader, PostgresLoader, interaction_rows
from contextiq.store.engine import SQLITE_POOL_SIZE, create_engine
from contextiq.store.experiments import SERVED_USERS, ExperimentConflict, ExperimentStore
from contextiq.store.migrate import upgrade_async
from contextiq.store.point_reads import InlineSqliteReads
from contextiq.store.session_retention import SessionRetention
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import InteractionRow, OnlineUser, OutboxRow, ProcessedEvent
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


async def test_a_listing_walked_by_cursor_gives_each_item_once_in_listing_order(
    store: Store,
) -> None:
    """Items created in one instant (an import) are ordered by id, so a cursor of
    (created_at, content_id) neither skips nor repeats one of them between pages."""
    same = NOW - timedelta(seconds=1, microseconds=250)
    await store.upsert_content(
        [_content(n) for n in range(3)]
        + [Content(f"t{n}", "Tied", "music", created_at=same) for n in range(4)]
    )
    everything, total = await store.list_content(None, None, 100, 0)
    assert total == 7
    assert [c.content_id for c in everything] == ["c0", "t3", "t2", "t1", "t0", "c1", "c2"]
    walked: list[str] = []
    after = None
    while True:
        page, total = await store.list_content(None, None, 2, 0, after)
        assert total == 7
        if not page:
            break
        walked += [c.content_id for c in page]
        last = page[-1]
        assert last.created_at is not None
        after = (last.created_at, last.content_id)
    assert walked == [c.content_id for c in everything]
    page, _ = await store.list_content("music", "tied", 10, 0, (same, "t2"))
    assert [c.content_id for c in page] == ["t1", "t0"]


async def test_an_item_written_again_unchanged_is_left_as_it_was(store: Store) -> None:
    """A nightly re-import of the whole catalogue changes a few items: only those are
    written, so servers reread those (`content_updated_since`), not every row."""
    items = [
        Content("a", "A", "music", tags=("x",), created_at=NOW, metadata={"k": [1, 2]}),
        Content("b", "B", "art", available_until=NOW + timedelta(days=1)),
    ]
    assert await store.upsert_content(items) == {"a", "b"}
    before = utcnow()
    assert await store.upsert_content(items) == set()
    assert await store.content_updated_since(before) == []
    renamed = [items[0], Content("b", "B", "art", available_until=NOW + timedelta(days=2))]
    assert await store.upsert_content(renamed) == {"b"}
    assert [c.content_id for c in await store.content_updated_since(before)] == ["b"]
    stored = await store.get_content("b")
    assert stored is not None and stored.available_until == NOW + timedelta(days=2)


async def test_created_at_is_replaced_only_when_given(store: Store) -> None:
    """A re-import with a corrected date takes it; one without a date keeps the first."""
    await store.upsert_content([Content("dated", "Dated", "music", created_at=NOW)])
    later = NOW + timedelta(days=3)
    await store.upsert_content([Content("dated", "Dated", "music", created_at=later)])
    replaced = await store.get_content("dated")
    assert replaced is not None and replaced.created_at == later
    await store.upsert_content([Content("dated", "Renamed", "music")])
    kept = await store.get_content("dated")
    assert kept is not None and kept.title == "Renamed" and kept.created_at == later


async def test_search_ignores_case_in_any_script(store: Store) -> None:
    await store.upsert_content(
        [Content("cafe", "CAFÉ Society", "film"), Content("aerzte", "Ärzte live", "music")]
    )
    for query, found in (("café", ["cafe"]), ("ÄRZTE", ["aerzte"]), ("society", ["cafe"])):
        items, total = await store.list_content(None, query, 10, 0)
        assert ([c.content_id for c in items], total) == (found, 1)


async def _found(store: Store, query: str, category: str | None = None) -> tuple[list[str], int]:
    items, total = await store.list_content(category, query, 100, 0)
    return [c.content_id for c in items], total


async def test_search_follows_imports_updates_and_deletes(store: Store) -> None:
    """The trigram index (migration 0015) is kept in step with every write of the catalogue."""
    await store.upsert_content([_content(n) for n in range(3)] + [_content(3, "art")])
    assert await _found(store, "title") == (["c0", "c1", "c2", "c3"], 4)
    assert await _found(store, "TITLE 2") == (["c2"], 1)
    assert await _found(store, "itle", "art") == (["c3"], 1)
    assert await _found(store, "c2") == (["c2"], 1)  # ids are searched too
    await store.upsert_content([_content(n) for n in range(3)])  # the same again: no write
    assert await _found(store, "title 1") == (["c1"], 1)
    renamed = replace(_content(1), title="Kind of Blue")
    await store.upsert_content([renamed, replace(_content(2), category="art")])
    assert await _found(store, "title 1") == ([], 0)
    assert await _found(store, "of blue") == (["c1"], 1)
    assert await _found(store, "title", "art") == (["c2", "c3"], 2)
    assert await store.delete_content("c1")
    assert await _found(store, "blue") == ([], 0)
    await store.upsert_content([replace(renamed, created_at=NOW + timedelta(days=1))])
    assert await _found(store, "blue") == (["c1"], 1)


async def test_search_takes_its_query_as_plain_text(store: Store) -> None:
    """`%`, `_`, backslashes, quotes and FTS5's query syntax match themselves, at any length."""
    titles = {
        "pct": "50% off",
        "five": "5000 offers",
        "under": "snake_case",
        "space": "snake case",
        "slash": "back\\slash",
        "quote": 'the "Quoted" one',
        "syntax": "NEAR(a b) title:x ^y z* OR w",
    }
    await store.upsert_content([Content(i, t, "music") for i, t in titles.items()])
    expected = {
        "%": ["pct"],
        "0%": ["pct"],
        "50% o": ["pct"],
        "_": ["under"],
        "e_c": ["under"],
        "snake_": ["under"],
        "\\": ["slash"],
        "k\\s": ["slash"],
        '"': ["quote"],
        '"quoted"': ["quote"],
        'd" o': ["quote"],
        "ke c": ["space"],
        "sna": ["space", "under"],
        "of": ["five", "pct"],
        "near(a b)": ["syntax"],
        "title:x": ["syntax"],
        "^y z* or": ["syntax"],
        "a b) title": ["syntax"],
    }
    for query, ids in expected.items():
        found, total = await _found(store, query)
        assert (sorted(found), total) == (ids, len(ids)), query
    if store.dialect == "sqlite":  # PostgreSQL refuses a NUL (a 400 from the API)
        assert await _found(store, "a\0b") == ([], 0)  # FTS5 would end the phrase there


async def test_a_search_under_three_characters_still_finds_every_match(store: Store) -> None:
    """A trigram index cannot answer a query of one or two characters: those scan, and find
    the same as a longer query would, case and ids included."""
    await store.upsert_content(
        [Content("ab1", "Xy", "music"), Content("q", "Über", "music"), Content("z", "zz", "art")]
    )
    assert await _found(store, "xY") == (["ab1"], 1)
    assert await _found(store, "B") == (["q", "ab1"], 2)  # one instant: by id, descending
    assert await _found(store, "üB") == (["q"], 1)
    assert await _found(store, "z", "art") == (["z"], 1)


async def test_the_search_index_keeps_its_rows_through_a_vacuum(tmp_path: Path) -> None:
    """SQLite's FTS5 rows are keyed by the item's rowid; VACUUM (docs/security.md has operators
    run it after erasures) copies a table's rowids as they are, gaps included."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    store = Store(url)
    try:
        await store.upsert_content([_content(n) for n in range(20)])
        for n in range(0, 20, 3):
            await store.delete_content(f"c{n}")
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM"))
        await store.upsert_content([replace(_content(5), title="Kind of Blue")])
        kept = [f"c{n}" for n in (1, 10, 11, 13, 14, 16, 17, 19)]
        assert await _found(store, "title 1") == (kept, 8)
        assert await _found(store, "of blue") == (["c5"], 1)
        assert await _found(store, "title 5") == ([], 0)
    finally:
        await store.close()


async def test_a_search_with_many_matches_pages_in_listing_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `SORTED_MATCHES` a page walks the listing's index instead of sorting the matches:
    both give the same pages, by offset and by cursor."""
    await store.upsert_content(
        [_content(n, "art" if n % 3 else "music") for n in range(12)]
        + [Content("other", "Else", "art", created_at=NOW)]
    )
    pages = {}
    for sorted_matches in (100, 2):
        monkeypatch.setattr(title_search, "SORTED_MATCHES", sorted_matches)
        for category in (None, "art"):
            walked: list[str] = []
            after = None
            while page := (await store.list_content(category, "title", 5, 0, after))[0]:
                walked += [c.content_id for c in page]
                assert page[-1].created_at is not None
                after = (page[-1].created_at, page[-1].content_id)
            offset_page = await store.list_content(category, "title", 3, 2)
            pages[sorted_matches, category] = (walked, [c.content_id for c in offset_page[0]])
            pages[sorted_matches, category, "total"] = offset_page[1]
    assert pages[100, None] == pages[2, None]
    assert pages[100, "art"] == pages[2, "art"]
    assert pages[2, None][0] == [f"c{n}" for n in range(12)]
    assert pages[2, "art"][1] == ["c4", "c5", "c7"]
    assert (pages[2, None, "total"], pages[2, "art", "total"]) == (12, 8)


async def test_items_read_by_id_match_the_stored_rows(store: Store) -> None:
    """`get_contents` (the request path's raw read) gives what the ORM read gives."""
    windowed = Content(
        "w",
        "Windowed",
        "art",
        description="d",
        tags=("x",),
        created_at=NOW,
        metadata={"price": 3.5, "nested": {"a": [1, "b"]}},
        available_from=NOW + timedelta(microseconds=7),
        available_until=NOW + timedelta(days=2),
        hidden=True,
    )
    await store.upsert_content([windowed, Content("plain", "Plain", "music", created_at=NOW)])
    found = await store.get_contents(["w", "missing", "plain", "w"])
    assert set(found) == {"w", "plain"}
    for content_id, content in found.items():
        assert content == await store.get_content(content_id)
    assert found["w"] == windowed
    assert await store.get_contents([]) == {}


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


async def test_published_rows_are_purged_in_batches_and_pending_ones_kept(store: Store) -> None:
    await store.upsert_content([_content(1)])
    for n in range(7):
        await store.record_interactions([_event(n, f"u{n}", "c1", InteractionType.VIEW)])
    assert await store.pending_outbox() == 7
    async with store.claim_outbox(5):
        pass  # published when the block exits cleanly
    assert await store.purge_published_outbox(utcnow() - timedelta(days=1), batch=2) == 0
    assert await store.purge_published_outbox(utcnow() + timedelta(seconds=1), batch=2) == 5
    assert await store.pending_outbox() == 2


@pytest.mark.integration
async def test_a_second_relay_never_overtakes_an_earlier_row_of_the_same_key() -> None:
    """Two relays on PostgreSQL: while one holds a user's earlier row, the other publishes
    other users' rows but leaves that user's later ones; old code handed them out, and the
    user's events could reach the bus, and be applied, out of order."""
    async with fresh_pg_database() as url:
        store = Store(url)
        try:
            await store.upsert_content([_content(1)])
            await store.record_interactions([_event(1, "u", "c1", InteractionType.VIEW)])
            await store.record_interactions(
                [_event(n, user, "c1", InteractionType.VIEW) for n, user in ((2, "v"), (3, "u"))]
            )
            async with store.claim_outbox(1) as first:
                assert [e.payload["event_id"] for e in first] == ["e1"]
                async with store.claim_outbox(10) as second:  # another relay, meanwhile
                    assert [e.payload["event_id"] for e in second] == ["e2"]
            async with store.claim_outbox(10) as third:
                assert [e.payload["event_id"] for e in third] == ["e3"]
            assert await store.pending_outbox() == 0
        finally:
            await store.close()


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
    assert len((await store.apply_events(delivered)).events) == 3
    assert (await store.apply_events(delivered)).events == []  # redelivery changes nothing
    profile = await store.user_profile("u")
    assert profile.counts == {"like": 1, "view": 1, "dislike": 1}
    assert profile.first_seen == NOW + timedelta(minutes=1)
    assert profile.last_seen == NOW + timedelta(minutes=3)
    assert [r.content_id for r in profile.recent] == ["c2", "c2", "c1"]
    assert profile.top_categories == [("art", 1), ("music", 1)]
    popular = await store.popular_content(10)
    assert [c.content_id for c, _ in popular] == ["c1", "c2"]
    history = await store.user_history("u")
    assert history.weights == {"c1": 3.0, "c2": -3.0}
    assert list(history.weights) == ["c1", "c2"]  # oldest first, by each item's latest event
    assert history.recent_positive == ["c2", "c1"]


async def test_an_erased_users_events_delivered_again_add_nothing(store: Store) -> None:
    """Erasure forgets the events' processed ids: a redelivery, or an event another relay
    delivers after the erasure, must not bring the user's counters back."""
    await store.upsert_content([_content(1)])
    await store.record_interactions([_event(1, "gone", "c1", InteractionType.LIKE, 3.0)])
    async with store.claim_outbox(10) as batch:
        delivered = decode_events(e.payload for e in batch)
    assert len((await store.apply_events(delivered)).events) == 1
    popularity = await _stats(store, "c")
    await store.delete_user(UserDeleted(event_id="d1", user_id="gone", requested_at=NOW))
    assert (await store.apply_events(delivered)).events == []
    assert (await _stats(store, "g"))[0] == []  # no user_stats row for "gone"
    assert await _stats(store, "c") == popularity


async def _processed_ids(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return set(await conn.scalars(select(ProcessedEvent.event_id)))


async def test_processed_ids_past_the_window_are_purged_in_batches_and_recent_ones_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dedupe's ids went nowhere: 5 million a day, kept for good. Those applied before
    the cutoff go, two per batch here; an event applied since and delivered again still
    counts once."""
    await store.upsert_content([_content(1)])
    events = [_event(n, f"u{n}", "c1", InteractionType.LIKE, 3.0) for n in range(7)]
    await store.record_interactions(events)
    old, recent = [InteractionRecorded(e) for e in events[:5]], [InteractionRecorded(events[5])]
    applied = utcnow()
    monkeypatch.setattr(store_module, "utcnow", lambda: applied - timedelta(days=20))
    assert len((await store.apply_events(old)).events) == 5
    monkeypatch.setattr(store_module, "utcnow", lambda: applied)
    assert len((await store.apply_events(recent)).events) == 1
    popularity = await _stats(store, "c")

    assert await store.purge_processed_events(applied - timedelta(days=15), batch=2) == 5
    assert await _processed_ids(store) == {"e5"}
    assert await store.purge_processed_events(applied - timedelta(days=15), batch=2) == 0
    assert (await store.apply_events(recent)).events == []  # within the window: once
    assert await _stats(store, "c") == popularity
    assert (await _stats(store, "u5"))[0][0][2] == 1  # the like counted once
    # Past it a delivery counts again: why the window must outlast every redelivery.
    assert len((await store.apply_events(old[:1])).events) == 1


async def test_an_erased_users_events_stay_out_once_their_ids_are_purged_too(
    store: Store,
) -> None:
    """Erasure forgets the user's ids and `_still_stored` holds their events out; a purge
    of every id (the erasure's event included) must not let them, or it, count again."""
    await store.upsert_content([_content(1)])
    await store.record_interactions([_event(1, "gone", "c1", InteractionType.LIKE, 3.0)])
    async with store.claim_outbox(10) as batch:
        delivered = decode_events(e.payload for e in batch)
    erasure = UserDeleted(event_id="d1", user_id="gone", requested_at=NOW)
    assert len((await store.apply_events([*delivered, erasure])).events) == 2
    popularity = await _stats(store, "c")
    assert await store.purge_processed_events(utcnow() + timedelta(seconds=1)) == 1  # d1
    assert await _processed_ids(store) == set()
    assert (await store.apply_events(delivered)).events == []
    assert (await _stats(store, "g"))[0] == []
    assert await _stats(store, "c") == popularity


@pytest.mark.integration
async def test_training_reads_are_not_held_to_the_request_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whole-table reads take seconds at millions of rows (24 s for the sizing query at 5
    million events); here the request timeout is 50 ms and a 0.2 s sleep stands in for them,
    so the outcome does not depend on how fast the host counts."""
    async with fresh_pg_database() as url:
        short = partial(create_engine, statement_timeout_ms=50)
        monkeypatch.setattr(store_module, "create_engine", short)
        store = Store(url)
        slow = text("SELECT pg_sleep(0.2)")
        try:
            with pytest.raises(DBAPIError, match="statement timeout"):
                async with store.engine.connect() as conn:  # what a request's read meets
                    await conn.execute(slow)
            async with store._whole_table_reads() as conn:  # what training's reads run on
                await conn.execute(slow)
            await store.upsert_content([_content(n) for n in range(5)])
            await store.record_interactions(
                [_event(n, f"u{n % 3}", f"c{n % 5}", InteractionType.LIKE, 1.0) for n in range(20)]
            )
            assert await store.interaction_counts() == (3, 5, 20)
            assert sum([len(c.user_ids) async for c in store.iter_interaction_columns()]) == 20
            assert len(await store.all_content()) == 5
        finally:
            await store.close()


async def test_a_training_window_reads_the_last_days_up_to_the_newest_event(store: Store) -> None:
    """Every round read every stored event, so its time and memory grew with the history kept."""
    assert await store.training_since(7) is None  # nothing stored: no window to begin
    await store.upsert_content([_content(1), _content(2)])
    newest = NOW - timedelta(days=400)  # an imported history: the window ends at its newest
    at = [newest - timedelta(days=d) for d in (30, 30, 6, 1, 0)]
    await store.record_interactions(
        [
            Interaction(f"e{n}", f"u{n % 2}", f"c{1 + n // 3}", InteractionType.VIEW, 1.0, when)
            for n, when in enumerate(at)
        ]
        + [Interaction("s", session_subject("v"), "c1", InteractionType.VIEW, 1.0, newest)]
    )
    assert await store.training_since(0) is None
    since = await store.training_since(7)
    assert since is not None and since.timestamp() == (newest - timedelta(days=7)).timestamp()
    assert await store.interaction_counts(since) == (2, 2, 3)
    columns = [b async for b in store.iter_interaction_columns(since)]
    assert [t for b in columns for t in b.timestamps] == pytest.approx(
        [w.timestamp() for w in at[2:]], abs=1e-3
    )
    assert await store.interaction_counts() == (2, 2, 5)


async def test_interactions_stream_in_order_as_columns_with_epoch_times(store: Store) -> None:
    await store.upsert_content([_content(1), _content(2)])
    events = [
        _event(n, f"u{n % 3}", f"c{1 + n % 2}", InteractionType.VIEW, 1.0 + n) for n in range(25)
    ]
    await store.record_interactions(events)
    batches = [b async for b in store.iter_interaction_columns(batch=10)]
    assert [len(b.user_ids) for b in batches] == [10, 10, 5]
    assert [u for b in batches for u in b.user_ids] == [e.user_id for e in events]
    assert [c for b in batches for c in b.content_ids] == [e.content_id for e in events]
    assert [w for b in batches for w in b.weights] == [e.weight for e in events]
    times = [t for b in batches for t in b.timestamps]
    assert times == pytest.approx([e.occurred_at.timestamp() for e in events], abs=1e-3)
    assert await store.interaction_counts() == (3, 2, 25)


async def _load(loader: BulkLoader, items: Sequence[Interaction]) -> int:
    return await loader.add(interaction_rows(items, loader.time_form))


def _history(prefix: str) -> list[Interaction]:
    """Mixed kinds, weights (some negative) and times over three users and four items."""
    kinds = [
        (InteractionType.LIKE, 3.0),
        (InteractionType.VIEW, 1.5),
        (InteractionType.DISLIKE, -4.0),
        (InteractionType.SAVE, 4.0),
        (InteractionType.SKIP, -1.0),
    ]
    return [
        Interaction(
            f"{prefix}-e{n}",
            f"{prefix}u{n % 3}",
            f"{prefix}c{n % 4}",
            kinds[n % 5][0],
            kinds[n % 5][1],
            NOW - timedelta(days=n * 3, seconds=n * 7.25),
        )
        for n in range(40)
    ]


async def _stats(store: Store, prefix: str) -> tuple[list[Any], list[Any], int]:
    async with store.engine.connect() as conn:
        users = (
            await conn.execute(
                text(
                    "SELECT substr(user_id, 2), interaction_type, count, first_at, last_at "
                    "FROM user_stats WHERE user_id LIKE :p ORDER BY 1, 2"
                ),
                {"p": f"{prefix}%"},
            )
        ).all()
        items = (
            await conn.execute(
                text(
                    "SELECT substr(content_id, 2), score, interactions FROM content_stats "
                    "WHERE content_id LIKE :p ORDER BY 1"
                ),
                {"p": f"{prefix}%"},
            )
        ).all()
        known = await conn.scalar(
            text("SELECT count(*) FROM users WHERE user_id LIKE :p"), {"p": f"{prefix}%"}
        )
    return list(users), list(items), int(known or 0)


async def test_bulk_load_gives_the_stats_of_events_applied_one_by_one(store: Store) -> None:
    await store.upsert_content([_content(n) for n in range(4)])
    one_by_one = _history("a")
    await store.record_interactions(one_by_one)
    await store.apply_events([InteractionRecorded(i) for i in one_by_one])
    bulk = _history("b")
    async with store.bulk_loader() as loader:
        assert await _load(loader, bulk[:25]) == 25
        assert await _load(loader, bulk[20:]) == 15  # five repeats skipped
    a_users, a_items, a_known = await _stats(store, "a")
    b_users, b_items, b_known = await _stats(store, "b")
    assert b_users == a_users and b_known == a_known == 3
    assert [(c, n) for c, _, n in b_items] == [(c, n) for c, _, n in a_items]
    for (_, bulk_score, _), (_, event_score, _) in zip(b_items, a_items, strict=True):
        assert bulk_score == pytest.approx(event_score, rel=1e-9)
    async with store.bulk_loader() as loader:  # the same load again adds nothing
        assert await _load(loader, bulk) == 0
        assert await _load(loader, [_history("c")[0]] * 2) == 1  # nor does a repeat in a chunk
    assert await _stats(store, "b") == (b_users, b_items, b_known)
    async with store.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM import_pending")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM outbox WHERE key LIKE 'b%'")) == 0


async def test_bulk_chunks_stay_in_one_transaction_until_committed(store: Store) -> None:
    await store.upsert_content([_content(n) for n in range(4)])
    history = _history("a")
    async with store.bulk_loader() as loader:
        assert await _load(loader, history[:20]) == 20
        assert await _load(loader, history[20:]) == 20
        assert await store.interaction_counts() == (0, 0, 0)  # not visible before the commit
        await loader.commit()
        assert (await store.interaction_counts())[2] == 40
        assert await _load(loader, _history("b")[:5]) == 5  # committed by the load's end
    assert (await store.interaction_counts())[2] == 45


async def test_a_bulk_load_lifts_the_idle_transaction_limit(store: Store) -> None:
    """The service ends a session idle in a transaction after 60 s (a dead relay's claim); a
    bulk load's transaction is idle while a chunk is parsed, or the import is paused."""
    await store.upsert_content([_content(n) for n in range(4)])
    async with store.bulk_loader() as loader:
        await _load(loader, _history("a")[:5])
        if store.dialect == "postgresql":
            conn = cast(PostgresLoader, loader).conn
            limit = await conn.fetchval("SHOW idle_in_transaction_session_timeout")
            assert limit == "0"
        await loader.commit()
    assert (await store.interaction_counts())[2] == 5


async def test_a_failed_chunk_rolls_back_the_open_transaction(store: Store) -> None:
    await store.upsert_content([_content(n) for n in range(4)])
    history = _history("a")
    bad = interaction_rows(history[20:21], lambda _: None)  # occurred_at is NOT NULL
    async with store.bulk_loader() as loader:
        assert await _load(loader, history[:20]) == 20
        with pytest.raises(Exception, match=r"(?i)not[ -]null"):
            await loader.add(bad)
        assert await _load(loader, history[20:]) == 20  # a new transaction
    assert (await store.interaction_counts())[2] == 20
    async with store.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM user_stats")) > 0
        assert await conn.scalar(text("SELECT sum(count) FROM user_stats")) == 20


async def test_bulk_load_into_an_empty_table_rebuilds_its_indexes(store: Store) -> None:
    table = cast(Table, InteractionRow.__table__)
    names = {i.name for i in table.indexes}
    async with store.bulk_loader() as loader:
        assert names.isdisjoint(await _index_names(store))  # dropped while loading
        await _load(loader, _history("a"))
    assert names <= await _index_names(store)
    history = await store.user_history("au0")
    assert len(history.weights) == 4


async def test_rows_of_a_killed_bulk_load_are_folded_by_the_next(store: Store) -> None:
    await store.record_interactions(_history("a")[:1])  # not empty: indexes stay
    async with store.sessions.begin() as session:  # what a killed load leaves behind
        await session.execute(
            text(
                "INSERT INTO interactions (event_id, user_id, content_id, interaction_type, "
                "weight, occurred_at) VALUES ('k1', 'ku', 'kc', 'like', 3.0, :t)"
            ),
            {"t": NOW},
        )
        top = await session.scalar(text("SELECT max(id) FROM interactions"))
        await session.execute(
            text("INSERT INTO import_pending (lo, hi) VALUES (:i, :i)"), {"i": top}
        )
    async with store.bulk_loader():
        pass
    profile = await store.user_profile("ku")
    assert profile.counts == {"like": 1}
    assert [c.content_id for c, _ in await store.popular_content(10)] == []  # no item row
    async with store.engine.connect() as conn:
        assert await conn.scalar(text("SELECT interactions FROM content_stats")) == 1


async def test_a_merge_applied_after_its_users_erasure_brings_no_counters_back(
    store: Store,
) -> None:
    """On Kafka the merge (keyed by the session) and the erasure (keyed by the user) travel in
    different partitions: the erasure may be applied first, and the merge must not then move
    the session's counters into the erased user."""
    await store.upsert_content([_content(1)])
    visitor = session_subject("s1")
    await store.record_interactions([_event(1, visitor, "c1", InteractionType.LIKE)])
    async with store.claim_outbox(10) as batch:
        assert len((await store.apply_events(decode_events(e.payload for e in batch))).events) == 1
    assert await store.merge_session(SessionMerged("m1", visitor, "u", NOW)) == 1
    await store.delete_user(UserDeleted("d1", "u", NOW))
    async with store.claim_outbox(10) as batch:
        merge, erasure = decode_events(e.payload for e in batch)
    await store.apply_events([erasure])
    await store.apply_events([merge])
    user, session = await store.user_export("u"), await store.user_export(visitor)
    assert user["stats"] == [] and session["stats"] == []


async def _index_names(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return set(
            await conn.run_sync(
                lambda c: {i["name"] for i in inspect(c).get_indexes("interactions")}
            )
        )


async def test_a_merge_moves_a_sessions_rows_then_its_counters(store: Store) -> None:
    await store.upsert_content([_content(1), _content(2), _content(3)])
    visitor = session_subject("s1")
    await store.record_interactions(
        [
            _event(1, "u", "c1", InteractionType.SAVE, 4.0),
            _event(2, visitor, "c2", InteractionType.LIKE, 3.0),
        ]
    )
    merge = SessionMerged("m1", visitor, "u", NOW)
    assert await store.merge_session(merge) == 1
    assert await store.merge_session(SessionMerged("m2", visitor, "u", NOW)) == 0
    # A session event written after the merge, relayed in the same batch, stays the session's.
    await store.record_interactions([_event(3, visitor, "c3", InteractionType.VIEW)])
    async with store.claim_outbox(10) as batch:
        delivered = decode_events(e.payload for e in batch)
    kinds = [e.type for e in delivered]
    assert kinds == ["interaction", "interaction", "session_merged", "interaction"]
    assert len((await store.apply_events(delivered)).events) == 4
    assert (await store.apply_events(delivered)).events == []
    user, session = await store.user_export("u"), await store.user_export(visitor)
    assert {s["interaction_type"]: s["count"] for s in user["stats"]} == {"save": 1, "like": 1}
    assert [s["interaction_type"] for s in session["stats"]] == ["view"]
    assert [i["content_id"] for i in user["interactions"]] == ["c1", "c2"]
    assert [i["content_id"] for i in session["interactions"]] == ["c3"]
    assert (await store.user_history("u")).weights == {"c1": 4.0, "c2": 3.0}
    assert await store.interaction_counts() == (1, 2, 2)  # training never reads sessions
    columns = [b async for b in store.iter_interaction_columns()]
    assert [u for b in columns for u in b.user_ids] == ["u", "u"]


async def test_item_vectors_read_in_one_query_and_stream_with_their_category(store: Store) -> None:
    await store.upsert_content([_content(1), _content(2, "film"), _content(3)])
    await store.put_item_vectors("m", [("c1", "d1", b"\x01\x02"), ("c2", "d2", b"\x03")])
    await store.put_item_vectors("other", [("c3", "d3", b"\x04")])
    assert await store.item_vectors(["c1", "c2", "c3", "c1", "absent"], "m") == {
        "c1": b"\x01\x02",
        "c2": b"\x03",
    }
    assert await store.item_vectors([], "m") == {}
    streamed = [pair async for pair in store.item_vectors_by_category("m")]
    assert sorted(streamed) == [("film", b"\x03"), ("music", b"\x01\x02")]


async def test_concurrent_reads_share_a_bounded_set_of_connections(store: Store) -> None:
    """Past the pool, readers wait for a connection: on SQLite each one is a thread, and
    opening one per read under load cost more than the read."""
    await store.upsert_content([_content(1)])
    await store.record_interactions([_event(1, "u", "c1", InteractionType.LIKE)])
    threads = threading.active_count()
    profiles = await asyncio.gather(*(store.user_profile("u") for _ in range(100)))
    assert {tuple(p.counts.items()) for p in profiles} == {(("like", 1),)}
    if store.dialect == "sqlite":
        assert threading.active_count() - threads <= SQLITE_POOL_SIZE
    assert await store.some_users(10) == ["u"]


async def _assert_index_only(store: Store, sql: str, param: str, table: str, index: str) -> None:
    """`sql` (one bound parameter) reads `index` alone, never `table`'s pages."""
    if store.dialect == "sqlite":
        plan = await store.point_reads.rows("EXPLAIN QUERY PLAN " + sql, param)
        assert f"COVERING INDEX {index}" in str(plan)
        return
    async with store.engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        await driver.execute(f"VACUUM ANALYZE {table}")  # marks the pages all-visible
        async with driver.transaction():  # the planner told to use an index, in here only
            await driver.execute("SET LOCAL enable_seqscan = off")
            await driver.execute("SET LOCAL enable_bitmapscan = off")
            plan = str(await driver.fetch("EXPLAIN " + sql, param))
    assert "Index Only Scan" in plan and index in plan


async def test_a_history_is_read_from_the_index_alone(store: Store) -> None:
    """Not one table page per event: an import in time order scatters a user's rows."""
    await store.record_interactions([_event(n, "u", f"c{n}", InteractionType.LIKE) for n in (1, 2)])
    await _assert_index_only(
        store, store._history_sql, "u", "interactions", "ix_interactions_history"
    )


async def test_an_experiments_users_are_counted_from_the_index_alone(store: Store) -> None:
    """Not every user of every day and group: an interleaved report counts one experiment's."""
    rows = [("2026-12-01", "exp", "u1"), ("2026-12-02", "exp", "u1"), ("2026-12-02", "exp", "u2")]
    async with store.sessions() as session, session.begin():
        session.add_all(
            OnlineUser(day=d, model_version="v", experiment=e, arm="", user_id=u)
            for d, e, u in rows
        )
        session.add(
            OnlineUser(day="2026-12-02", model_version="v", experiment="", arm="", user_id="u3")
        )
    assert await ExperimentStore(store).users("exp") == 2
    sql = str(SERVED_USERS.compile(dialect=store.engine.dialect))
    await _assert_index_only(store, sql, "exp", "online_users", "ix_online_users_experiment")


async def test_request_reads_see_the_write_committed_just_before(store: Store) -> None:
    """On a SQLite file they run on the caller's thread, through a connection of their own."""
    await store.upsert_content([_content(1), _content(2)])
    threads = threading.active_count()
    for n in (1, 2):
        await store.record_interactions([_event(n, "u", f"c{n}", InteractionType.LIKE)])
        history = await store.user_history("u")
        assert list(history.weights) == [f"c{m}" for m in range(1, n + 1)]
    assert set(await store.get_contents(["c2", "c9"])) == {"c2"}
    if store.dialect == "sqlite":
        assert isinstance(store.point_reads, InlineSqliteReads)
        assert threading.active_count() == threads  # no thread hop, no pooled connection
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await store.point_reads.rows("DELETE FROM content")


async def test_the_export_holds_what_was_shown_to_the_user(store: Store) -> None:
    """Impressions with the lists they showed (each list once), the experiment arms and the
    online-metric days the user is counted in: everything the worker keeps about them."""
    await store.upsert_content([_content(n) for n in range(1, 4)])
    shown_ms = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    in_arm = served_list([("c1", 0.9), ("c2", 0.5)], "v1", "exp", "treatment", None)
    plain = served_list([("c3", 0.7)], "v1", None, None, None)
    batch = ImpressionBatch.of(
        [
            ("r1", "u", in_arm, shown_ms),
            ("r2", "u", in_arm, shown_ms + 1_000),  # a cached copy: the same list
            ("r3", "u", plain, shown_ms + 2_000),
            ("r4", "someone-else", plain, shown_ms),
        ]
    )
    click = replace(_event(1, "u", "c2", InteractionType.VIEW), recommendation_id="r2")
    await store.apply_events([batch])
    await store.apply_events([ImpressionSeen("r1", "u", (1,))])
    await store.record_interactions([click])  # an event is applied only with its row stored
    await store.apply_events([InteractionRecorded(click)])

    export = await store.user_export("u")
    assert [i["recommendation_id"] for i in export["impressions"]] == ["r1", "r2", "r3"]
    r1, r2, r3 = export["impressions"]
    assert r1["list_id"] == r2["list_id"] != r3["list_id"]
    assert r1["shown_at"] == NOW.isoformat() and r1["seen_positions"] == [1]
    assert (r2["seen_positions"], r2["engaged"], r2["clicked_positions"]) == (None, ["view"], [2])
    lists = {entry["list_id"]: entry for entry in export["served_lists"]}
    assert len(export["served_lists"]) == len(lists) == 2
    assert lists[r1["list_id"]] == {
        "list_id": r1["list_id"],
        "model_version": "v1",
        "experiment": "exp",
        "arm": "treatment",
        "teams": None,
        "items": [
            {"position": 1, "content_id": "c1", "score": 0.9},
            {"position": 2, "content_id": "c2", "score": 0.5},
        ],
    }
    assert [i["content_id"] for i in lists[r3["list_id"]]["items"]] == ["c3"]
    assert export["experiments"] == [
        {"experiment": "exp", "arm": "treatment", "impressions": 2, "clicks": 1}
    ]
    day = NOW.date().isoformat()
    assert export["online_metrics"] == [
        {"day": day, "model_version": "v1", "experiment": None, "arm": None},
        {"day": day, "model_version": "v1", "experiment": "exp", "arm": "treatment"},
    ]
    assert HeldData.model_validate(export).impressions[1].clicked_positions == [2]
    others = await store.user_export("someone-else")
    assert [i["recommendation_id"] for i in others["impressions"]] == ["r4"]
    assert others["experiments"] == []


async def _created_at_once(store: Store, names: Sequence[str]) -> list[BaseException | None]:
    """Creations of open-ended experiments (so all overlap), all at once."""

    async def connected() -> None:
        async with store.engine.connect():
            await asyncio.sleep(0.05)

    # Pooled connections first: a cold pool opens them one by one, and the first creation would
    # be done before the others could start.
    await asyncio.gather(*(connected() for _ in names))
    arms = (Arm("a", 1.0, ArmConfig()), Arm("b", 1.0, ArmConfig()))
    experiments = ExperimentStore(store)
    return await asyncio.gather(
        *(experiments.create(Experiment(name, arms, False, NOW, None, NOW)) for name in names),
        return_exceptions=True,
    )


@pytest.mark.parametrize("same_name", [False, True], ids=["overlapping", "one-name"])
async def test_concurrent_experiment_creations_let_exactly_one_through(
    store: Store, same_name: bool
) -> None:
    """One experiment at a time takes the traffic, however many are created at once."""
    names = ["race" if same_name else f"race-{n}" for n in range(8)]
    results = await _created_at_once(store, names)
    assert [r for r in results if not isinstance(r, ExperimentConflict)] == [None]
    assert len(await ExperimentStore(store).all()) == 1


async def test_a_name_taken_past_the_lock_is_a_conflict(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The primary key's refusal is a 409 too, should a creation ever run unserialized."""

    async def unserialized(*_: object) -> None:
        return None

    monkeypatch.setattr(experiments_module, "_one_creation_at_a_time", unserialized)
    results = await _created_at_once(store, ["race"] * 8)
    assert [r for r in results if not isinstance(r, ExperimentConflict)] == [None]


async def test_sessions_idle_past_the_retention_are_forgotten_and_nothing_else(
    store: Store,
) -> None:
    """Idle means nothing since the cut-off in either table a visit writes to; users are
    never touched, however old. A batch of 2 makes the walks page through the subjects."""
    old, recent = NOW - timedelta(days=40), NOW + timedelta(days=1)
    await store.upsert_content([_content(1), _content(2)])
    subjects = {name: session_subject(name) for name in ("gone", "shown", "busy", "seen", "e")}
    events = [
        Interaction("g1", subjects["gone"], "c1", InteractionType.LIKE, 3.0, old),
        Interaction("g2", subjects["gone"], "c2", InteractionType.VIEW, 1.0, old),
        Interaction("s1", subjects["shown"], "c1", InteractionType.LIKE, 3.0, old),
        Interaction("b1", subjects["busy"], "c1", InteractionType.LIKE, 3.0, old),
        Interaction("b2", subjects["busy"], "c2", InteractionType.LIKE, 3.0, recent),
        Interaction("e1", subjects["e"], "c2", InteractionType.SAVE, 4.0, old),
        Interaction("u1", "old-user", "c1", InteractionType.LIKE, 3.0, old),
    ]
    await store.record_interactions(events)
    shown = [
        ImpressionRecorded("r1", subjects["shown"], (("c2", 1.0),), recent),  # came back
        ImpressionRecorded("r2", subjects["seen"], (("c1", 1.0),), old),  # shown, never sent
        ImpressionRecorded("r3", subjects["gone"], (("c2", 1.0),), old),
    ]
    await store.apply_events([InteractionRecorded(e) for e in events] + shown)

    purged = await SessionRetention(store, timedelta(days=30), batch=2).purge(NOW)

    assert purged == 3  # gone, e and seen
    for name in ("gone", "e", "seen"):
        held = await store.user_export(subjects[name])
        assert not any(held[kind] for kind in ("interactions", "stats", "impressions")), name
    for name in ("shown", "busy"):
        assert (await store.user_export(subjects[name]))["interactions"], name
    assert [i["event_id"] for i in (await store.user_export("old-user"))["interactions"]] == ["u1"]
    async with store.sessions() as session:
        processed = set(await session.scalars(select(ProcessedEvent.event_id)))
    assert {"g1", "g2", "e1"}.isdisjoint(processed) and {"s1", "u1"} <= processed
    assert await SessionRetention(store, timedelta(days=30)).purge(NOW) == 0


async def test_a_sent_impression_batch_leaves_the_outbox_and_a_pending_one_loses_the_erased(
    store: Store,
) -> None:
    """A batch names many users, not by its key: kept after sending, every erasure would read
    a day of them. Only the batches not yet sent are edited by an erasure."""
    listing = served_list([("c1", 0.9)], "v1", None, None, None)
    sent = ImpressionBatch.of([("r1", "gone", listing, 1), ("r2", "kept", listing, 2)])
    await store.record_interactions((), (sent,))
    async with store.claim_outbox(10) as batch:
        assert [e.payload["event_id"] for e in batch] == [sent.event_id]
    pending = ImpressionBatch.of([("r3", "gone", listing, 3), ("r4", "kept", listing, 4)])
    await store.record_interactions((), (pending,))
    await store.delete_user(UserDeleted("d1", "gone", utcnow()))
    async with store.claim_outbox(10) as batch:
        payloads = [e.payload for e in batch]
    assert [p["type"] for p in payloads] == ["impressions", "user_deleted"]
    assert ImpressionBatch.from_wire(payloads[0]).shown == (("r4", "kept", 0, 4),)
    async with store.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxRow)) == 0


async def test_the_popularity_ranking_orders_every_item(store: Store) -> None:
    """Most popular first with their scores; items nobody interacted with last, by id."""
    await store.upsert_content([_content(n) for n in range(5)])
    events = [
        _event(1, "u1", "c3", InteractionType.LIKE),
        _event(2, "u2", "c3", InteractionType.LIKE),
    ]
    events.append(_event(3, "u1", "c1", InteractionType.LIKE))
    await store.record_interactions(events)
    async with store.claim_outbox(10) as batch:
        await store.apply_events(decode_events(e.payload for e in batch))
    ranking = await store.popularity_ranking()
    assert [i for i, _ in ranking] == ["c3", "c1", "c0", "c2", "c4"]
    scores = [s for _, s in ranking]
    assert scores[0] > scores[1] > 0 and scores[2:] == [0.0, 0.0, 0.0]


async def test_events_decades_old_count_toward_popularity(store: Store) -> None:
    """Popularity is stored as 2^(age / half-life) from a 2024 epoch: events from before 1983
    (a Unix time of 0 in an import) raised PostgreSQL's underflow error in a bulk load and
    counted 0 one by one. Past the exponent's bounds events count as if at the bound."""
    await store.upsert_content([_content(n) for n in range(3)])
    ancient = [datetime(1970, 1, 1, tzinfo=UTC), datetime(1975, 6, 1, tzinfo=UTC)]
    bulk = [
        Interaction(f"old{n}", f"u{n}", "c1", InteractionType.LIKE, 1.0, at)
        for n, at in enumerate(ancient)
    ]
    async with store.bulk_loader() as loader:
        assert await _load(loader, bulk) == 2
    one_by_one = [Interaction("old2", "u2", "c2", InteractionType.LIKE, 1.0, ancient[0])]
    one_by_one.append(_event(9, "u3", "c0", InteractionType.LIKE))
    await store.record_interactions(one_by_one)
    await store.apply_events([InteractionRecorded(i) for i in one_by_one])
    ranking = await store.popularity_ranking()
    assert [i for i, _ in ranking] == ["c0", "c1", "c2"]
    assert all(s > 0 for _, s in ranking)
