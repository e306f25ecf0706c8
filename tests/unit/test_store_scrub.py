"""An erased person, or an idle session forgotten, is not left readable in the database's file
or its write-ahead log."""

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from contextiq.domain import InteractionType, session_subject
from contextiq.events.types import UserDeleted, decode_events
from contextiq.store.migrate import upgrade_async
from contextiq.store.scrub import truncate_wal
from contextiq.store.session_retention import SessionRetention
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import InteractionRow
from tests.unit import test_store
from tests.unit.test_store import _content, _event

store = test_store.store  # the fixture: a migrated store on SQLite, then on PostgreSQL

PERSON = "erased-person-5501"
VISITOR = "idle-visitor-7702"


async def _deliver(store: Store) -> None:
    """What the relay and the worker do: send the unsent outbox rows and apply them."""
    async with store.claim_outbox(100) as batch:
        sent = decode_events(e.payload for e in batch)
    await store.apply_events(sent)


async def test_an_erasure_leaves_no_copy_in_the_file_or_its_log(store: Store) -> None:
    """On SQLite every connection zeroes what it deletes, and the log, which still holds the
    rows as written, is folded in and emptied once the deletion is sent and applied. (This
    host's SQLite zeroes deletes by default, so the pragma is read back as well as the bytes.)
    PostgreSQL keeps dead rows until VACUUM: the rows are gone for every query."""
    await store.upsert_content([_content(n) for n in range(3)])
    await store.record_interactions(
        [_event(n, PERSON, f"c{n % 3}", InteractionType.LIKE) for n in range(30)]
    )
    await _deliver(store)
    await store.delete_user(UserDeleted("d1", PERSON, utcnow()))
    await _deliver(store)
    held = await store.user_export(PERSON)
    assert not any(held.values()), held
    database = store.sqlite_file
    if database is None:
        return
    log = database.with_name(database.name + "-wal")
    assert log.stat().st_size == 0
    assert PERSON.encode() not in database.read_bytes()
    async with store.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1


async def test_a_purge_that_forgot_sessions_scrubs_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle sessions go by the same deletes as an erasure, so the same scrub follows: once
    per pass that forgot any, however many batches it took, and none for a pass that forgot
    none. (Rows written straight to the table: the outbox rows an interaction adds are
    purged on their own, a day after they are sent.)"""
    scrubs: list[str] = []
    scrub = store.scrub

    async def counted() -> None:
        scrubs.append("scrubbed")
        await scrub()

    monkeypatch.setattr(store, "scrub", counted)
    idle = utcnow() - timedelta(days=40)
    visits = [
        {
            "event_id": f"v{n}",
            "user_id": session_subject(f"{VISITOR}-{n}"),
            "content_id": "c1",
            "interaction_type": InteractionType.LIKE.value,
            "weight": 3.0,
            "occurred_at": idle,
        }
        for n in range(5)
    ]
    async with store.engine.begin() as conn:
        await conn.execute(insert(InteractionRow), visits)
    retention = SessionRetention(store, timedelta(days=30), batch=2)
    assert await retention.purge(utcnow() - timedelta(days=30)) == 5
    assert await retention.purge(utcnow() - timedelta(days=30)) == 0
    assert len(scrubs) == 1
    database = store.sqlite_file
    if database is not None:
        assert database.with_name(database.name + "-wal").stat().st_size == 0
        assert VISITOR.encode() not in database.read_bytes()


async def test_a_reader_holding_an_old_snapshot_delays_the_truncation_only(
    tmp_path: Path,
) -> None:
    """The checkpoint holds back writers while it waits, so it gives up on a long read (a
    training round's) after a moment, and the next one truncates."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await upgrade_async(url)
    db = Store(url)
    reader = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    try:
        await db.upsert_content([_content(1)])
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM content").fetchone()
        await db.upsert_content([_content(2)])
        assert not await truncate_wal(tmp_path / "db.sqlite")
        reader.execute("COMMIT")
        assert await truncate_wal(tmp_path / "db.sqlite")
        assert (tmp_path / "db.sqlite-wal").stat().st_size == 0
    finally:
        reader.close()
        await db.close()
