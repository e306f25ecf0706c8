"""Every table that names a person is in their export, their erasure and the session purge.

The tables come from the schema (`store/tables.py`), not from a list kept here: a table added
with a subject column fails these tests, naming it, until the export and the erasure reach it.
Each table gets one row, of values by column type, for a subject of its own, so whatever the
export holds for that subject came from that table.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Column, Table, func, select

from contextiq.domain import session_subject
from contextiq.events.types import ImpressionBatch, UserDeleted, decode_events, served_list
from contextiq.store.online import to_ms
from contextiq.store.session_retention import SessionRetention
from contextiq.store.store import Store
from contextiq.store.tables import Base, DeadLetter, InteractionRow

NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: Columns that name a person: a user id or a session's subject (`~session:<id>`); the outbox
#: keys a person's events by them.
SUBJECT_COLUMNS = ("user_id", "key")

#: Tables with a subject column that the export leaves out, and why.
NOT_EXPORTED = {
    "outbox": "copies in transit of events the export lists from their own tables (an"
    " interaction under `interactions`), sent within seconds and purged a day later",
}
#: Tables with a subject column that the idle-session purge leaves alone, and why.
NOT_PURGED = {
    "outbox": "its sent rows are purged a day after sending, before a session is ever idle",
}
#: Tables without a subject column, and why no row of theirs names a person.
NAMES_NO_ONE = {
    "content": "the catalogue",
    "content_stats": "popularity per item, an aggregate",
    "processed_events": "ids of applied events; a subject's go with their interactions",
    "model_versions": "models and their metrics",
    "training_count": "how many events were applied since the last training round",
    "import_pending": "id ranges of a bulk load",
    "item_vectors": "items' text vectors",
    "api_keys": "keys an admin named",
    "audit_log": "admin actions, kept past an erasure: a person in it is a pseudonym",
    "served_lists": "lists as served, shared by everyone shown them (exported by impression)",
    "online_daily": "counts per day and arm, an aggregate",
    "online_items": "items served per day and arm",
    "experiments": "experiment definitions",
    "experiment_arm_stats": "counts per arm, an aggregate",
    "rules": "an admin's promotions and boosts",
}


def _subject_tables() -> list[tuple[Table, Column[Any]]]:
    return [
        (table, table.c[name])
        for table in Base.metadata.sorted_tables
        for name in SUBJECT_COLUMNS
        if name in table.c
    ]


def _value(column: Column[Any]) -> Any:
    if column.nullable:
        return None
    if isinstance(column.type, JSON):
        return {}
    kind = column.type.python_type
    if kind is str:
        return f"{column.table.name}.{column.name}"[: getattr(column.type, "length", None)]
    return {int: 1, float: 1.0, bool: False, datetime: NOW, bytes: b"x"}[kind]


def _row(table: Table, subject_column: Column[Any], subject: str, **given: Any) -> dict[str, Any]:
    """A row of `table` about `subject`: `given` values, else one by each column's type."""
    return {
        c.name: given.get(c.name, subject if c is subject_column else _value(c))
        for c in table.columns
        if c.autoincrement is not True
    }


async def _seed(
    store: Store, tables: list[tuple[Table, Column[Any]]], subject_of: dict[str, str]
) -> None:
    """One row in each of `tables`, about the subject `subject_of` names for it."""
    async with store.engine.begin() as conn:
        for table, column in tables:
            await conn.execute(table.insert(), _row(table, column, subject_of[table.name]))


async def _naming(
    store: Store, tables: list[tuple[Table, Column[Any]]], subjects: Sequence[str]
) -> list[str]:
    """The tables with a row whose subject column is one of `subjects`."""
    named = []
    async with store.engine.connect() as conn:
        for table, column in tables:
            query = select(func.count()).select_from(table).where(column.in_(subjects))
            if await conn.scalar(query):
                named.append(table.name)
    return named


def test_every_table_names_a_person_or_says_why_not() -> None:
    """A table whose person column had another name would escape the tests below."""
    tables = {table.name for table in Base.metadata.sorted_tables}
    named = {table.name for table, _ in _subject_tables()}
    unsorted = tables - named - NAMES_NO_ONE.keys()
    assert not unsorted, f"add its column to SUBJECT_COLUMNS or say why: {sorted(unsorted)}"
    assert NAMES_NO_ONE.keys() <= tables - named
    assert NOT_EXPORTED.keys() <= named and NOT_PURGED.keys() <= named


async def test_every_table_naming_a_person_is_exported_and_erased(migrated_url: str) -> None:
    """The export of a subject with one row, in one table, holds something; the erasure of
    every subject, sent and applied as the relay and the worker do, leaves no row."""
    tables = _subject_tables()
    subject_of = {table.name: f"held-{table.name}" for table, _ in tables}
    subjects = list(subject_of.values())
    store = Store(migrated_url)
    try:
        await _seed(store, tables, subject_of)
        assert await _naming(store, tables, subjects) == list(subject_of)
        missing = [
            name
            for name, subject in subject_of.items()
            if name not in NOT_EXPORTED and not any((await store.user_export(subject)).values())
        ]
        assert not missing, f"not in the export: {missing}"
        for subject in subjects:
            await store.delete_user(UserDeleted(f"erase-{subject}", subject, NOW))
        async with store.claim_outbox(len(subjects)) as batch:
            sent = decode_events(event.payload for event in batch)
        await store.apply_events(sent)
        assert await _naming(store, tables, subjects) == [], "left after the erasure"
    finally:
        await store.close()


async def test_an_idle_session_goes_from_every_table_an_erasure_reaches(
    migrated_url: str,
) -> None:
    """The purge finds a session by its interactions (and impressions), then deletes every
    row about it that an erasure would (`delete_subject_rows`)."""
    tables = _subject_tables()
    subject_of = {table.name: session_subject(f"held-{table.name}") for table, _ in tables}
    interactions = cast(Table, InteractionRow.__table__)
    store = Store(migrated_url)
    try:
        await _seed(store, tables, subject_of)
        async with store.engine.begin() as conn:
            for name, subject in subject_of.items():  # each session's visit, at NOW
                visit = _row(interactions, interactions.c.user_id, subject, event_id=name)
                await conn.execute(interactions.insert(), visit)
        purged = await SessionRetention(store, timedelta(days=30)).purge(NOW + timedelta(days=1))
        assert purged == len(subject_of)
        left = await _naming(store, tables, list(subject_of.values()))
        assert set(left) == NOT_PURGED.keys(), "left after the purge"
    finally:
        await store.close()


async def test_a_session_known_only_by_its_dead_letters_goes_once_they_are_idle(
    migrated_url: str,
) -> None:
    """An interaction of a visit that failed on every delivery is its only row: the purge
    finds the session by its dead letter's time, as by an interaction's."""
    letters = cast(Table, DeadLetter.__table__)
    idle, recent = session_subject("letter-idle"), session_subject("letter-recent")
    store = Store(migrated_url)
    try:
        async with store.engine.begin() as conn:
            for subject, at in ((idle, NOW - timedelta(days=40)), (recent, NOW)):
                row = _row(letters, letters.c.user_id, subject, event_id=f"dead-{subject}")
                await conn.execute(letters.insert(), {**row, "last_failed_at": at})
        purged = await SessionRetention(store, timedelta(days=30)).purge(NOW - timedelta(days=30))
        assert purged == 1
        assert await _naming(store, [(letters, letters.c.user_id)], [idle, recent]) == [
            "dead_letters"
        ]
        assert await _naming(store, [(letters, letters.c.user_id)], [idle]) == []
    finally:
        await store.close()


async def test_a_session_shown_lists_only_in_a_dead_impression_batch_goes_once_idle(
    migrated_url: str,
) -> None:
    """A batch names its subjects in its payload alone: the purge reads the batches set aside,
    takes out the sessions whose newest impression there is idle, and keeps the rest."""
    letters = cast(Table, DeadLetter.__table__)
    idle, recent = session_subject("batch-idle"), session_subject("batch-recent")
    shown = served_list([("a", 0.9)], "v1", None, None, None)
    old, new = to_ms(NOW - timedelta(days=40)), to_ms(NOW)
    batch = ImpressionBatch.of(
        [
            ("r1", idle, shown, old),
            ("r2", recent, shown, old),
            ("r3", recent, shown, new),
            ("r4", "a-user", shown, old),
        ]
    )
    store = Store(migrated_url)
    try:
        async with store.engine.begin() as conn:
            row = _row(letters, letters.c.user_id, None, event_id=batch.event_id)
            await conn.execute(
                letters.insert(),
                {**row, "event_type": ImpressionBatch.type, "payload": batch.to_wire()},
            )
        purged = await SessionRetention(store, timedelta(days=30)).purge(NOW - timedelta(days=30))
        assert purged == 1
        async with store.engine.connect() as conn:
            (payload,) = (await conn.execute(select(letters.c.payload))).scalars()
        kept = ImpressionBatch.from_wire(payload)
        assert [(rid, subject) for rid, subject, _, _ in kept.shown] == [
            ("r2", recent),
            ("r3", recent),
            ("r4", "a-user"),
        ]
    finally:
        await store.close()
