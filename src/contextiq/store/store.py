"""Every query the service makes, on SQLite or PostgreSQL through one SQLAlchemy schema."""

import json
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Row,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.schema import CreateIndex, DropIndex

from contextiq.domain import (
    POSITIVE_TYPES,
    SESSION_PREFIX,
    Content,
    Interaction,
    as_utc,
    maybe_utc,
)
from contextiq.events.types import (
    Event,
    ImpressionBatch,
    ImpressionRecorded,
    ImpressionSeen,
    InteractionRecorded,
    SessionMerged,
    UserDeleted,
    from_ms,
    list_head,
)
from contextiq.experiments.attribution import TYPE_BITS
from contextiq.progress import Quiet, Tracker
from contextiq.store import title_search
from contextiq.store.bulk import BulkLoader, Indexes, PostgresLoader, SqliteLoader
from contextiq.store.engine import create_engine
from contextiq.store.online import OnlineApplier
from contextiq.store.parked import exported_parked_reports
from contextiq.store.point_reads import point_reads
from contextiq.store.popularity import POPULARITY_EPOCH, growth
from contextiq.store.records import (
    Applied,
    History,
    InteractionColumns,
    ModelVersion,
    OutboxEvent,
    Profile,
    RecentItem,
    RecordResult,
    TrainingCount,
)
from contextiq.store.scrub import truncate_wal
from contextiq.store.subject_letters import exported_dead_letters, forget_in_dead_batches
from contextiq.store.tables import (
    ContentRow,
    ContentStats,
    DeadLetter,
    ExperimentUser,
    ImpressionRow,
    InteractionRow,
    ItemVectorRow,
    ModelVersionRow,
    OnlineUser,
    OutboxRow,
    ParkedReport,
    ProcessedEvent,
    RecommendationSnapshot,
    ServedList,
    TrainingCountRow,
    User,
    UserStats,
)
from contextiq.store.transient import retry_transient

_IN_CHUNK = 500
#: Training reads users' interactions only: an anonymous session joins when merged into a user
#: (docs/architecture.md, "Anonymous sessions").
_USERS_ONLY = InteractionRow.user_id.not_like(SESSION_PREFIX + "%")
#: The events a model learns from (an erasure and a merge change what it learns too): each
#: applied adds one to the shared count that starts a round (`training_count`).
TRAINED_ON = (InteractionRecorded, UserDeleted, SessionMerged)
_COUNTS = cast(Table, TrainingCountRow.__table__)
_COUNT = (_COUNTS.c.events, _COUNTS.c.due_from)


def _training_rows(since: datetime | None) -> list[ColumnElement[bool]]:
    """The interactions a training reads: users' (not sessions'), from `since` when set."""
    if since is None:
        return [_USERS_ONLY]
    return [_USERS_ONLY, InteractionRow.occurred_at >= since]


def _training_count(row: Sequence[Any]) -> TrainingCount:
    """A `training_count` row read as `_COUNT` lists its columns."""
    return TrainingCount(int(row[0]), int(row[1]))


def utcnow() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


#: Outbox rows deleted once sent rather than kept for a day (`Store._mark_published`).
_REMOVED_ONCE_SENT = frozenset({UserDeleted.type, ImpressionBatch.type})
#: Each table that holds rows about a subject (a user or a session), by its subject column.
_SUBJECT_ROWS: tuple[
    tuple[str, InstrumentedAttribute[str] | InstrumentedAttribute[str | None]], ...
] = (
    ("interactions", InteractionRow.user_id),
    ("stats", UserStats.user_id),
    ("profile", User.user_id),
    ("snapshots", RecommendationSnapshot.user_id),
    ("impressions", ImpressionRow.user_id),
    ("online_users", OnlineUser.user_id),
    ("experiment_users", ExperimentUser.user_id),
    ("dead_letters", DeadLetter.user_id),
    ("parked_reports", ParkedReport.user_id),
)


async def delete_subject_rows(session: AsyncSession, subjects: Sequence[str]) -> dict[str, int]:
    """Delete every stored row about `subjects` (up to `_IN_CHUNK` of them), and the ids
    their events were deduplicated by; returns how many rows went, per kind. The outbox is
    the caller's: an erasure takes it too, a purge of long-idle sessions finds it purged.
    """
    event_ids = list(
        await session.scalars(
            select(InteractionRow.event_id).where(InteractionRow.user_id.in_(subjects))
        )
    )
    for chunk in _chunks(event_ids):
        await session.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(chunk)))
    removed: dict[str, int] = {}
    for name, column in _SUBJECT_ROWS:
        result = await session.execute(delete(column.class_).where(column.in_(subjects)))
        removed[name] = int(result.rowcount)  # type: ignore[attr-defined]
    removed["dead_letters"] += await forget_in_dead_batches(session, subjects)
    return removed


def _content(row: Any) -> Content:
    """A content row, ORM (`metadata_`) or Core (`metadata`), as the domain's item."""
    metadata = row.metadata_ if isinstance(row, ContentRow) else row.metadata
    return Content(
        content_id=row.content_id,
        title=row.title,
        category=row.category,
        description=row.description,
        tags=tuple(row.tags or ()),
        created_at=as_utc(row.created_at),
        metadata=dict(metadata or {}),
        available_from=maybe_utc(row.available_from),
        available_until=maybe_utc(row.available_until),
        hidden=bool(row.hidden),
    )


_CONTENT_COLUMNS = (
    ContentRow.content_id,
    ContentRow.title,
    ContentRow.category,
    ContentRow.description,
    ContentRow.tags,
    ContentRow.created_at,
    ContentRow.metadata_,
    ContentRow.available_from,
    ContentRow.available_until,
    ContentRow.hidden,
)


def _raw_time(value: datetime | str | None) -> datetime | None:
    """A time as the driver gives it: SQLite's text (UTC) or PostgreSQL's aware datetime."""
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _raw_json(value: Any) -> Any:
    """A JSON column from the raw driver: text on SQLite, decoded already on PostgreSQL.

    The standard library's decoder, as SQLAlchemy's: it reads what that wrote (NaN, big ints).
    """
    return json.loads(value) if isinstance(value, str | bytes) else value


def _raw_content(row: Sequence[Any]) -> Content:
    """A row of `_CONTENT_COLUMNS` from the raw driver."""
    content_id, title, category, description, tags, created, metadata, start, end, hidden = row
    return Content(
        content_id=content_id,
        title=title,
        category=category,
        description=description,
        tags=tuple(_raw_json(tags) or ()),
        created_at=_raw_time(created),
        metadata=dict(_raw_json(metadata) or {}),
        available_from=_raw_time(start),
        available_until=_raw_time(end),
        hidden=bool(hidden),
    )


def available_at(now: datetime) -> Any:
    """SQL condition: the item may appear in a list at `now` (see `Content.available`)."""
    return and_(
        ContentRow.hidden.is_(False),
        or_(ContentRow.available_from.is_(None), ContentRow.available_from <= now),
        or_(ContentRow.available_until.is_(None), ContentRow.available_until > now),
    )


_Listing = TypeVar("_Listing", bound=Select[*tuple[Any, ...]])


def _narrowed(stmt: _Listing, categories: Sequence[str]) -> _Listing:
    """A content listing kept to `categories` (all when empty)."""
    if categories:
        stmt = stmt.where(ContentRow.category.in_(categories))
    return stmt


def outbox_rows(events: Iterable[Event], now: datetime) -> list[dict[str, Any]]:
    """The outbox rows that queue `events` for the relay."""
    return [
        {
            "event_id": e.event_id,
            "key": e.key,
            "payload": e.to_wire(),
            "created_at": now,
            "published_at": None,
        }
        for e in events
    ]


#: What an upsert of an existing item replaces (its `created_at` only when one is given).
_CONTENT_UPDATED = (
    "title",
    "description",
    "category",
    "tags",
    "updated_at",
    "metadata",
    "available_from",
    "available_until",
    "hidden",
)


def _differs(stored: Any, given: Any) -> Any:
    """SQL: the stored value is not the one given (NULLs compared as values). JSON is
    compared as its text, PostgreSQL's `json` having no equality; a change of key order
    alone then counts as a change, which costs one rewrite."""
    if isinstance(stored.type, JSON):
        return sql_cast(stored, Text).is_distinct_from(sql_cast(given, Text))
    return stored.is_distinct_from(given)


class Store:
    """The repository for content, interactions, the outbox, stats and model versions."""

    def __init__(
        self,
        url: str,
        popularity_half_life_days: float = 14.0,
        attribution_window_hours: float = 24.0,
    ) -> None:
        self.engine: AsyncEngine = create_engine(url)
        self.dialect = self.engine.dialect.name
        #: SQLite: whether the catalogue search's FTS5 table is there (`_title_index`).
        self._fts: bool | None = None
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._half_life_s = popularity_half_life_days * 86_400.0
        self.online = OnlineApplier(
            self._insert, timedelta(hours=attribution_window_hours), self.dialect
        )
        self.point_reads = point_reads(self.engine)
        self._history_sql = str(
            select(
                InteractionRow.content_id, InteractionRow.interaction_type, InteractionRow.weight
            )
            .where(InteractionRow.user_id == bindparam("user_id"))
            .order_by(InteractionRow.occurred_at.desc(), InteractionRow.id.desc())
            .compile(dialect=self.engine.dialect)
        )
        # One parameter for any number of ids: an array, or a JSON list on SQLite.
        listed = (
            "= ANY($1::varchar[])"
            if self.dialect == "postgresql"
            else "IN (SELECT value FROM json_each(?))"
        )
        self._contents_sql = (
            str(select(*_CONTENT_COLUMNS).compile(dialect=self.engine.dialect))
            + f" WHERE content.content_id {listed}"
        )
        self._vectors_sql = (
            f"SELECT content_id, vector FROM item_vectors WHERE content_id {listed}"
            f" AND model = {'$2' if self.dialect == 'postgresql' else '?'}"
        )

    def _listed(self, ids: Sequence[str]) -> Any:
        """`ids` as the one parameter of a raw read's id list (see `_contents_sql`)."""
        return list(ids) if self.dialect == "postgresql" else orjson.dumps(list(ids)).decode()

    @property
    def backend(self) -> str:
        return self.dialect

    @property
    def sqlite_file(self) -> Path | None:
        """The database's file on SQLite; None on PostgreSQL."""
        database = self.engine.url.database
        return Path(database) if self.dialect == "sqlite" and database else None

    async def scrub(self) -> None:
        """After an erasure: on SQLite, the log that still holds the erased rows' pages is
        folded into the database (whose deletes are zeroed) and truncated (store/scrub.py).
        On PostgreSQL nothing: VACUUM reclaims dead rows (docs/security.md)."""
        database = self.sqlite_file
        if database is not None and database.exists():  # not ":memory:"
            await truncate_wal(database)

    async def close(self) -> None:
        self.point_reads.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def _insert(self, table: Any) -> Any:
        # Core inserts on the Table: the ORM's bulk path costs a quarter of ingest CPU.
        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table.__table__)

    # -- content -----------------------------------------------------------------------------

    async def upsert_content(self, items: Sequence[Content]) -> set[str]:
        """Insert or replace items; returns the ids written. An item given as it is stored is
        left alone, its `updated_at` too: a re-import of a whole catalogue that changed a few
        items has every server reread those few (`content_updated_since`), not every row."""
        if not items:
            return set()
        now = utcnow()
        rows = [
            {
                "content_id": c.content_id,
                "title": c.title,
                "description": c.description,
                "category": c.category,
                "tags": list(c.tags),
                "created_at": c.created_at or now,
                "updated_at": now,
                "metadata": c.metadata,
                "available_from": c.available_from,
                "available_until": c.available_until,
                "hidden": c.hidden,
            }
            for c in items
        ]
        # An item given without `created_at` keeps the one it has; given, it replaces it.
        dated = [row for row, c in zip(rows, items, strict=True) if c.created_at is not None]
        undated = [row for row, c in zip(rows, items, strict=True) if c.created_at is None]
        table = cast(Table, ContentRow.__table__)
        written: set[str] = set()
        async with self.sessions.begin() as session:
            for group, updated in (
                (dated, (*_CONTENT_UPDATED, "created_at")),
                (undated, _CONTENT_UPDATED),
            ):
                if group:
                    stmt = self._insert(ContentRow)
                    changed = [
                        _differs(table.c[name], stmt.excluded[name])
                        for name in updated
                        if name != "updated_at"
                    ]
                    stmt = stmt.on_conflict_do_update(
                        index_elements=["content_id"],
                        set_={name: stmt.excluded[name] for name in updated},
                        where=or_(*changed),
                    ).returning(ContentRow.content_id)
                    written.update((await session.execute(stmt, group)).scalars())
            if await self._title_index(session):
                await title_search.reindex(session, written)
        return written

    async def _title_index(self, session: AsyncSession) -> bool:
        """Whether SQLite's FTS5 table of titles is there to keep and read (store/title_search.py);
        PostgreSQL's index needs no upkeep and its planner reads it for the LIKE itself."""
        if self.dialect != "sqlite":
            return False
        if self._fts is None:
            self._fts = await title_search.present(session)
        return self._fts

    async def get_content(self, content_id: str) -> Content | None:
        async with self.sessions() as session:
            row = await session.get(ContentRow, content_id)
            return _content(row) if row else None

    @retry_transient()
    async def get_contents(self, content_ids: Sequence[str]) -> dict[str, Content]:
        """Items by id: one query through the raw driver (requests read their candidates)."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return {}
        rows = await self.point_reads.rows(self._contents_sql, self._listed(ids))
        return {row[0]: _raw_content(row) for row in rows}

    @retry_transient()
    async def existing_content_ids(self, content_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        async with self.sessions() as session:
            for chunk in _chunks(list(set(content_ids))):
                found.update(
                    await session.scalars(
                        select(ContentRow.content_id).where(ContentRow.content_id.in_(chunk))
                    )
                )
        return found

    async def delete_content(self, content_id: str) -> bool:
        async with self.sessions.begin() as session:
            if await self._title_index(session):
                await title_search.forget(session, [content_id])
            result = await session.execute(
                delete(ContentRow).where(ContentRow.content_id == content_id)
            )
            await session.execute(delete(ContentStats).where(ContentStats.content_id == content_id))
            await session.execute(
                delete(ItemVectorRow).where(ItemVectorRow.content_id == content_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def list_content(
        self,
        category: str | None,
        query: str | None,
        limit: int,
        offset: int,
        after: tuple[datetime, str] | None = None,
    ) -> tuple[list[Content], int]:
        """A page of the listing, newest first (then by id, so an import's items created in
        one instant keep an order), and how many items match. `after` (an item's created_at
        and id) starts the page past that item: read from the index, where an offset reads
        every row before it."""
        stmt: Select[Any] = select(ContentRow)
        if category:
            stmt = stmt.where(ContentRow.category == category)
        async with self.sessions() as session:
            if query:  # through a trigram index (store/title_search.py)
                search = title_search.TitleSearch.of(query, await self._title_index(session))
                total = await session.scalar(search.count(stmt))
                stmt = stmt.where(search.where(int(total or 0)))
            else:
                total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
            if after is not None:
                stmt = stmt.where(tuple_(ContentRow.created_at, ContentRow.content_id) < after)
            rows = await session.scalars(
                stmt.order_by(ContentRow.created_at.desc(), ContentRow.content_id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_content(r) for r in rows], int(total or 0)

    async def categories(self) -> list[tuple[str, int]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(ContentRow.category, func.count())
                .group_by(ContentRow.category)
                .order_by(ContentRow.category)
            )
            return [(c, int(n)) for c, n in rows]

    @asynccontextmanager
    async def _whole_table_reads(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads of whole tables (training, its sizing, the catalogue).

        At millions of rows they take seconds, and the request timeout (5 s on PostgreSQL,
        there to stop a stuck request) would stop every training.
        """
        async with self.engine.connect() as conn:
            await self.lift_statement_timeout(conn)
            yield conn

    async def lift_statement_timeout(self, executor: AsyncConnection | AsyncSession) -> None:
        """No statement timeout for the rest of `executor`'s transaction: work over whole
        tables (training reads, the session purge) takes seconds at millions of rows."""
        if self.dialect == "postgresql":
            await executor.execute(text("SET LOCAL statement_timeout = 0"))

    async def all_content(self) -> list[Content]:
        async with self._whole_table_reads() as conn:  # Core rows: 100,000 of them at a time
            return [_content(r) for r in await conn.execute(select(ContentRow.__table__))]

    async def content_ids(self) -> list[str]:
        """Every item's id alone: what a model checks its own items against on load."""
        async with self.engine.connect() as conn:
            return list(await conn.scalars(select(ContentRow.content_id)))

    async def newest_content_write(self) -> datetime | None:
        """When the catalogue was last written: the last entry of the `updated_at` index."""
        async with self.sessions() as session:
            newest = await session.scalar(select(func.max(ContentRow.updated_at)))
        return None if newest is None else as_utc(newest)

    @retry_transient()
    async def content_updated_since(self, moment: datetime) -> list[Content]:
        """Items written at or after `moment` (indexed on `updated_at`), oldest write first."""
        stmt = (
            select(ContentRow)
            .where(ContentRow.updated_at >= moment)
            .order_by(ContentRow.updated_at, ContentRow.content_id)
        )
        async with self.sessions() as session:
            return [_content(r) for r in await session.scalars(stmt)]

    async def some_users(self, limit: int) -> list[str]:
        """Any `limit` known users (a serving process warms up on them)."""
        async with self.sessions() as session:
            return list(await session.scalars(select(User.user_id).limit(limit)))

    async def content_count(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(ContentRow)) or 0)

    async def fresh_content(
        self,
        limit: int,
        categories: Sequence[str] = (),
        offset: int = 0,
    ) -> list[Content]:
        """Newest items available now, of any of `categories` (all when empty)."""
        stmt = (
            select(ContentRow)
            .where(available_at(utcnow()))
            .order_by(ContentRow.created_at.desc(), ContentRow.content_id)
            .limit(limit)
            .offset(offset)
        )
        stmt = _narrowed(stmt, categories)
        async with self.sessions() as session:
            return [_content(r) for r in await session.scalars(stmt)]

    async def popular_content(
        self,
        limit: int,
        categories: Sequence[str] = (),
        offset: int = 0,
    ) -> list[tuple[Content, float]]:
        """Most popular items available now, with their decayed popularity, best first."""
        stmt = (
            select(ContentRow, ContentStats.score)
            .join(ContentStats, ContentStats.content_id == ContentRow.content_id)
            .where(available_at(utcnow()))
            .order_by(ContentStats.score.desc(), ContentRow.content_id)
            .limit(limit)
            .offset(offset)
        )
        stmt = _narrowed(stmt, categories)
        async with self.sessions() as session:
            return [(_content(row), float(score)) for row, score in await session.execute(stmt)]

    # -- interactions and the outbox -----------------------------------------------------------

    @retry_transient()
    async def record_interactions(
        self, items: Sequence[Interaction], events: Sequence[Event] = ()
    ) -> RecordResult:
        """Write interactions and their outbox rows in one transaction; repeats count once.

        `events` (impressions) go to the outbox only, in the same transaction: the worker
        stores them, so the request path pays one row each.
        """
        unique = list({i.event_id: i for i in reversed(items)}.values())[::-1]
        repeated_in_batch = [i.event_id for i in items][len(unique) :]
        if not unique:
            await self._append_outbox(events)
            return RecordResult([], [])
        async with self.sessions.begin() as session:
            users = self._insert(User).on_conflict_do_nothing(index_elements=["user_id"])
            now = utcnow()
            await session.execute(
                users, [{"user_id": u, "created_at": now} for u in {i.user_id for i in unique}]
            )
            stmt = (
                self._insert(InteractionRow)
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(InteractionRow.event_id)
            )
            inserted = set(
                (
                    await session.execute(
                        stmt,
                        [
                            {
                                "event_id": i.event_id,
                                "user_id": i.user_id,
                                "content_id": i.content_id,
                                "interaction_type": i.interaction_type.value,
                                "duration_seconds": i.duration_seconds,
                                "weight": i.weight,
                                "occurred_at": i.occurred_at,
                            }
                            for i in unique
                        ],
                    )
                ).scalars()
            )
            fresh = [i for i in unique if i.event_id in inserted]
            # Impressions first: one waiting in the same group is older than the click on it.
            outgoing = [*events, *(InteractionRecorded(i) for i in fresh)]
            if outgoing:
                await session.execute(self._insert(OutboxRow), outbox_rows(outgoing, now))
        accepted = [i.event_id for i in fresh]
        duplicates = [i.event_id for i in unique if i.event_id not in inserted]
        return RecordResult(accepted, duplicates + repeated_in_batch)

    @retry_transient()
    async def append_outbox(self, events: Sequence[Event]) -> None:
        """Queue events alone, with nothing else to write beside them."""
        await self._append_outbox(events)

    async def _append_outbox(self, events: Sequence[Event]) -> None:
        """Not retried here: `record_interactions` retries as a whole, and retries nested in
        retries would multiply the attempts."""
        if events:
            async with self.sessions.begin() as session:
                await session.execute(self._insert(OutboxRow), outbox_rows(events, utcnow()))

    @asynccontextmanager
    async def claim_outbox(self, limit: int) -> AsyncIterator[list[OutboxEvent]]:
        """Hand out a batch of unsent events; they are marked sent when the block exits cleanly.

        On PostgreSQL the rows stay locked (`FOR UPDATE SKIP LOCKED`) until then, so concurrent
        relays never publish the same row, and a key's rows are handed out in order
        (`_behind_other_claims`). SQLite has one writer and one relay per file, and a read
        transaction held across the handler's writes could not upgrade, so it reads, lets go,
        and marks afterwards.
        """
        query = (
            select(OutboxRow.id, OutboxRow.key, OutboxRow.payload)
            .where(OutboxRow.published_at.is_(None))
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            async with self.sessions.begin() as session:
                rows = (await session.execute(query.with_for_update(skip_locked=True))).all()
                waiting = await self._behind_other_claims(session, rows)
                events = [
                    OutboxEvent(id=r.id, key=r.key, payload=r.payload)
                    for r in rows
                    if r.key not in waiting
                ]
                yield events
                await self._mark_published(session, events)
            return
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
        events = [OutboxEvent(id=r.id, key=r.key, payload=r.payload) for r in rows]
        yield events
        async with self.sessions.begin() as session:
            await self._mark_published(session, events)
        if any(e.payload.get("type") == UserDeleted.type for e in events):
            await self.scrub()  # the sent deletion's row, now deleted, named the user

    @staticmethod
    async def _behind_other_claims(session: AsyncSession, rows: Sequence[Row[Any]]) -> set[str]:
        """The keys of `rows` with an earlier unsent row this claim skipped: another relay
        holds it. Published now, theirs could overtake it on the bus (a key is a user's
        partition), so they are left, locked until this claim ends, for a later pass; other
        keys go on in parallel. Only unsent rows up to the claim's last are read: the other
        relays' claims, and this one."""
        if not rows:
            return set()
        first: dict[str, int] = {}
        for row in rows:
            first.setdefault(row.key, row.id)
        earliest = await session.execute(
            select(OutboxRow.key, func.min(OutboxRow.id))
            .where(OutboxRow.published_at.is_(None), OutboxRow.id <= rows[-1].id)
            .group_by(OutboxRow.key)
        )
        return {key for key, at in earliest if key in first and at < first[key]}

    @staticmethod
    async def _mark_published(session: AsyncSession, events: list[OutboxEvent]) -> None:
        """Mark rows sent; a sent deletion or impression batch is removed instead.

        A deletion names the erased user. A batch names many users, not by its key, so an
        erasure would have to read every batch kept to find theirs: a day of them is
        gigabytes under traffic. Once sent, its impressions are the worker's rows anyway.
        """
        outbox = cast(Table, OutboxRow.__table__)
        gone = [e.id for e in events if e.payload.get("type") in _REMOVED_ONCE_SENT]
        if gone:
            await session.execute(delete(outbox).where(outbox.c.id.in_(gone)))
        sent = [e.id for e in events if e.id not in gone]
        if sent:
            # Core, like the inserts: the ORM's UPDATE path evaluates its criteria per call.
            await session.execute(
                update(outbox).where(outbox.c.id.in_(sent)).values(published_at=utcnow())
            )

    @retry_transient()
    async def pending_outbox(self) -> int:
        async with self.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.published_at.is_(None))
                )
                or 0
            )

    @retry_transient()
    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Unpublished rows and when the oldest was written: the relay's lag."""
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(OutboxRow.created_at)).where(
                        OutboxRow.published_at.is_(None)
                    )
                )
            ).one()
        return int(row[0] or 0), as_utc(row[1]) if row[1] is not None else None

    async def purge_published_outbox(self, older_than: datetime, batch: int = 10_000) -> int:
        """Delete rows published before `older_than`, `batch` at a time, oldest ids first:
        old published rows have the lowest ids, so each batch walks the primary key from its
        start."""
        sent = OutboxRow.published_at.is_not(None) & (OutboxRow.published_at < older_than)
        return await self._delete_oldest(OutboxRow.id, sent, OutboxRow.id, batch)

    async def purge_processed_events(self, older_than: datetime, batch: int = 10_000) -> int:
        """Forget the ids of events applied before `older_than`, `batch` at a time, oldest
        first (`ix_processed_events_processed_at`); returns how many went.

        An event delivered again after its id went is applied again: `older_than` must lie
        before every redelivery (`CONTEXTIQ_DEDUPE_WINDOW_DAYS`). An erased user's events
        stay out either way (`_still_stored`).
        """
        applied = ProcessedEvent.processed_at
        return await self._delete_oldest(
            ProcessedEvent.event_id, applied < older_than, applied, batch
        )

    async def _delete_oldest(
        self, key: InstrumentedAttribute[Any], old: ColumnElement[bool], order: Any, batch: int
    ) -> int:
        """Delete the rows that are `old`, the first `batch` of them by `order` per transaction,
        until none is left; returns how many went.

        Millions of rows a day: one DELETE would scan the table past the 5 s statement timeout
        and hold its locks meanwhile; a batch is one short walk of an index from its start.
        """
        deleted = 0
        while True:
            # Skipping rows another process's purge holds: two purges take two batches
            # rather than wait on each other's rows (or deadlock, locking them in two orders).
            oldest = select(key).where(old).order_by(order).limit(batch)
            oldest = oldest.with_for_update(skip_locked=True)
            async with self.sessions.begin() as session:
                result = await session.execute(delete(key.class_).where(key.in_(oldest)))
            went = int(result.rowcount)  # type: ignore[attr-defined]
            deleted += went
            if went < batch:
                return deleted

    @retry_transient()
    async def apply_events(self, events: Sequence[Event]) -> Applied:
        """Fold events into stats and online metrics exactly once; returns the newly applied.

        Single impressions are deduplicated by their own table (one row each); the rest,
        impression batches included, by `processed_events`. Those a model learns from are
        added to the shared training count in the same transaction, so a batch is counted
        once however often it is delivered, and a crash between the two loses no count.
        """
        first: dict[str, Event] = {}
        for event in events:
            # The first of an id counts, as when a later one comes in another batch (a seen
            # report and its correction share one id).
            first.setdefault(event.event_id, event)
        unique = list(first.values())
        impressions = [e for e in unique if isinstance(e, ImpressionRecorded)]
        unique = [e for e in unique if not isinstance(e, ImpressionRecorded)]
        if not unique and not impressions:
            return Applied([])
        now = utcnow()
        async with self.sessions.begin() as session:
            new_ids: set[str] = set()
            if unique:
                stmt = (
                    self._insert(ProcessedEvent)
                    .on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(ProcessedEvent.event_id)
                )
                rows = [{"event_id": e.event_id, "processed_at": now} for e in unique]
                new_ids = set((await session.execute(stmt, rows)).scalars())
            fresh = await self._still_stored([e for e in unique if e.event_id in new_ids], session)
            interactions = [e.interaction for e in fresh if isinstance(e, InteractionRecorded)]
            if interactions:
                await self._add_popularity(session, interactions)
            await self._fold_user_stats(session, fresh)
            seen = [e for e in fresh if isinstance(e, ImpressionSeen)]
            batches = [e for e in fresh if isinstance(e, ImpressionBatch)]
            shown = await self.online.apply(session, impressions, batches, seen, interactions, now)
            # After the interactions: whatever the store holds about the user when the
            # deletion is applied goes, including events that raced with it.
            erased = dict.fromkeys(e.user_id for e in fresh if isinstance(e, UserDeleted))
            for user_id in erased:
                await self._erase_user(session, user_id)
            if erased:
                self.online.forget()
            counted = sum(isinstance(e, TRAINED_ON) for e in fresh)
            # Last: the row every worker updates is locked from here to the commit only.
            count = await self._count_applied(session, counted) if counted else None
        self.online.committed()
        if erased:
            await self.scrub()
        return Applied([*shown, *fresh], counted, count)

    @retry_transient()
    async def sweep_parked(self, parked_before: datetime) -> Counter[str]:
        """Apply the parked reports whose impression has arrived, then drop those parked
        before `parked_before`; returns how many were dropped, per type (`store/parked.py`)."""
        async with self.sessions.begin() as session:
            await self.online.settle_parked(session, utcnow())
            expired = await self.online.parked.expire(session, parked_before)
        self.online.committed()
        return expired

    async def _still_stored(self, events: list[Event], session: AsyncSession) -> list[Event]:
        """Leave out interactions whose row an erasure removed.

        Erasure forgets the user's `processed_events` ids, so a redelivered event, or one that
        another relay delivers after the erasure, is new again: applied, it would bring the
        erased user's counters back.
        """
        ids = [e.event_id for e in events if isinstance(e, InteractionRecorded)]
        stored: set[str] = set()
        for chunk in _chunks(ids):
            query = select(InteractionRow.event_id).where(InteractionRow.event_id.in_(chunk))
            stored.update((await session.scalars(query)).all())
        return [e for e in events if not isinstance(e, InteractionRecorded) or e.event_id in stored]

    async def _fold_user_stats(self, session: AsyncSession, events: list[Event]) -> None:
        """Counters in event order: a merge moves what the session's earlier events added."""
        pending: list[Interaction] = []
        for event in events:
            if isinstance(event, InteractionRecorded):
                pending.append(event.interaction)
            elif isinstance(event, SessionMerged):
                await self._add_user_stats(session, pending)
                pending = []
                await self._move_user_stats(session, event.session, event.user_id)
        await self._add_user_stats(session, pending)

    async def _move_user_stats(self, session: AsyncSession, source: str, target: str) -> None:
        """A merged session's counters go to the user, unless the user was erased since the
        merge (no `users` row: on Kafka the erasure, in the user's partition, may be applied
        before the merge, in the session's): then they go with the rest of the user's data."""
        rows = (await session.scalars(select(UserStats).where(UserStats.user_id == source))).all()
        if not rows:
            return
        moved = [
            {
                "user_id": target,
                "interaction_type": r.interaction_type,
                "count": r.count,
                "first_at": r.first_at,
                "last_at": r.last_at,
            }
            for r in rows
        ]
        await session.execute(delete(UserStats).where(UserStats.user_id == source))
        if await session.scalar(select(User.user_id).where(User.user_id == target)) is not None:
            await self._upsert_user_stats(session, moved)

    async def _add_user_stats(self, session: AsyncSession, items: list[Interaction]) -> None:
        if not items:
            return
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        for i in items:
            at = as_utc(i.occurred_at)
            key = (i.user_id, i.interaction_type.value)
            row = grouped.setdefault(
                key,
                {
                    "user_id": key[0],
                    "interaction_type": key[1],
                    "count": 0,
                    "first_at": at,
                    "last_at": at,
                },
            )
            row["count"] += 1
            row["first_at"] = min(row["first_at"], at)
            row["last_at"] = max(row["last_at"], at)
        await self._upsert_user_stats(session, list(grouped.values()))

    async def _upsert_user_stats(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        stmt = self._insert(UserStats)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "interaction_type"],
            set_={
                "count": UserStats.count + stmt.excluded.count,
                "first_at": case(
                    (stmt.excluded.first_at < UserStats.first_at, stmt.excluded.first_at),
                    else_=UserStats.first_at,
                ),
                "last_at": case(
                    (stmt.excluded.last_at > UserStats.last_at, stmt.excluded.last_at),
                    else_=UserStats.last_at,
                ),
            },
        )
        await session.execute(
            stmt, sorted(rows, key=lambda r: (r["user_id"], r["interaction_type"]))
        )

    async def _add_popularity(self, session: AsyncSession, items: list[Interaction]) -> None:
        totals: dict[str, float] = {}
        counts: dict[str, int] = {}
        for i in items:
            if i.weight <= 0:
                continue
            age = (as_utc(i.occurred_at) - POPULARITY_EPOCH).total_seconds()
            boost = i.weight * growth(age / self._half_life_s)
            if not math.isfinite(boost):
                # A weight no setting gives (an older version's or a direct write's): stored,
                # the item would top every popular list for good. Set aside as a dead letter.
                raise ValueError(f"weight {i.weight} makes the item's popularity infinite")
            totals[i.content_id] = totals.get(i.content_id, 0.0) + boost
            counts[i.content_id] = counts.get(i.content_id, 0) + 1
        if not totals:
            return
        now = utcnow()
        stmt = self._insert(ContentStats)
        stmt = stmt.on_conflict_do_update(
            index_elements=["content_id"],
            set_={
                "score": ContentStats.score + stmt.excluded.score,
                "interactions": ContentStats.interactions + stmt.excluded.interactions,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await session.execute(
            stmt,
            [
                {
                    "content_id": cid,
                    "score": totals[cid],
                    "interactions": counts[cid],
                    "updated_at": now,
                }
                for cid in sorted(totals)
            ],
        )

    @retry_transient()
    async def user_history(self, user_id: str, recent: int = 10) -> History:
        """Every request reads one: one indexed query, compiled once per store (`point_reads`).

        SQLAlchemy's result machinery and aiosqlite's thread hops cost more than the query.
        """
        history = History()
        rows = await self.point_reads.rows(self._history_sql, user_id)
        for content_id, kind, weight in rows:
            history.weights[content_id] = history.weights.get(content_id, 0.0) + weight
            if (
                kind in POSITIVE_TYPES
                and len(history.recent_positive) < recent
                and content_id not in history.recent_positive
            ):
                history.recent_positive.append(content_id)
        history.weights = dict(reversed(history.weights.items()))  # oldest first, as models expect
        return history

    @retry_transient()
    async def user_profile(self, user_id: str, recent: int = 10, top: int = 5) -> Profile:
        async with self.sessions() as session:
            # Counted from the interactions themselves (one row per event id, so exactly
            # once): a profile read right after a 202 already includes that write.
            stats = (
                await session.execute(
                    select(
                        InteractionRow.interaction_type,
                        func.count(),
                        func.min(InteractionRow.occurred_at),
                        func.max(InteractionRow.occurred_at),
                    )
                    .where(InteractionRow.user_id == user_id)
                    .group_by(InteractionRow.interaction_type)
                )
            ).all()
            recent_rows = (
                await session.execute(
                    select(InteractionRow, ContentRow.title, ContentRow.category)
                    .join(
                        ContentRow, ContentRow.content_id == InteractionRow.content_id, isouter=True
                    )
                    .where(InteractionRow.user_id == user_id)
                    .order_by(InteractionRow.occurred_at.desc(), InteractionRow.id.desc())
                    .limit(recent)
                )
            ).all()
            top_rows = await session.execute(
                select(ContentRow.category, func.count())
                .join(InteractionRow, InteractionRow.content_id == ContentRow.content_id)
                .where(
                    InteractionRow.user_id == user_id,
                    InteractionRow.interaction_type.in_([t.value for t in POSITIVE_TYPES]),
                )
                .group_by(ContentRow.category)
                .order_by(func.count().desc(), ContentRow.category)
                .limit(top)
            )
        return Profile(
            user_id=user_id,
            counts={kind: int(n) for kind, n, _, _ in stats},
            top_categories=[(c, int(n)) for c, n in top_rows],
            first_seen=min((as_utc(first) for _, _, first, _ in stats), default=None),
            last_seen=max((as_utc(last) for _, _, _, last in stats), default=None),
            recent=[
                RecentItem(
                    content_id=row.content_id,
                    title=title or row.content_id,
                    category=category or "",
                    interaction_type=row.interaction_type,
                    occurred_at=as_utc(row.occurred_at),
                )
                for row, title, category in recent_rows
            ],
        )

    async def training_since(self, window_days: float) -> datetime | None:
        """Where a training window of `window_days` up to the newest stored event begins
        (None: every event). From the newest event, not from now, so a window over an
        imported history of years ago still holds its latest events."""
        if not window_days:
            return None
        async with self._whole_table_reads() as conn:
            newest = (
                await conn.execute(select(func.max(InteractionRow.occurred_at)).where(_USERS_ONLY))
            ).scalar_one()
        return None if newest is None else newest - timedelta(days=window_days)

    async def interaction_counts(self, since: datetime | None = None) -> tuple[int, int, int]:
        """(users, items, interactions) that training reads (from `since`, when set): sizes a
        training up front."""
        async with self._whole_table_reads() as conn:
            row = (
                await conn.execute(
                    select(
                        func.count(func.distinct(InteractionRow.user_id)),
                        func.count(func.distinct(InteractionRow.content_id)),
                        func.count(),
                    ).where(*_training_rows(since))
                )
            ).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def iter_interaction_columns(
        self, since: datetime | None = None, batch: int = 250_000
    ) -> AsyncIterator[InteractionColumns]:
        """Every user's interaction (from `since`, when set) in id order, `batch` rows at a
        time, as columns.

        Millions of rows are read per training, so this goes through the raw driver (one
        query, fetched in chunks: a server-side cursor on PostgreSQL), not through ORM rows,
        and times come back as epoch seconds computed by the database, not datetimes.
        """
        if self.dialect == "sqlite":
            seconds = (func.julianday(InteractionRow.occurred_at) - 2440587.5) * 86400.0
        else:
            seconds = func.extract("epoch", InteractionRow.occurred_at)
        columns = (InteractionRow.user_id, InteractionRow.content_id, InteractionRow.weight)
        query = select(*columns, seconds).where(*_training_rows(since)).order_by(InteractionRow.id)
        async with self.engine.connect() as conn:
            sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None, "an async driver connection"
            if self.dialect == "postgresql":
                async with driver.transaction():
                    await driver.execute("SET LOCAL statement_timeout = 0")  # _whole_table_reads
                    cursor = await driver.cursor(sql)
                    while rows := await cursor.fetch(batch):
                        yield _columns(rows)
            else:
                cursor = await driver.execute(sql)
                try:
                    while rows := await cursor.fetchmany(batch):
                        yield _columns(rows)
                finally:
                    await cursor.close()

    # -- bulk import (import team; store/bulk.py has the dialects' paths) ---------------------

    @asynccontextmanager
    async def bulk_loader(
        self, cache_mb: int = 512, finishing: Callable[[int], Tracker] = Quiet
    ) -> AsyncIterator[BulkLoader]:
        """A loader on a connection of its own, discarded afterwards (it carries bulk settings).

        The stats fold runs on the way out, also after an error or Ctrl-C, so every row that
        was loaded is counted; a load killed outright is folded by the next one. `finishing`
        makes the display for its steps (`BulkLoader.finishing_steps`).
        """
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            table = cast(Table, InteractionRow.__table__)
            secondary = [i for i in table.indexes if not i.unique]
            indexes = Indexes(
                drop=[
                    str(DropIndex(i, if_exists=True).compile(dialect=conn.dialect))
                    for i in secondary
                ],
                create=[
                    str(CreateIndex(i, if_not_exists=True).compile(dialect=conn.dialect))
                    for i in secondary
                ],
            )
            loader: SqliteLoader | PostgresLoader
            if self.dialect == "postgresql":
                loader = PostgresLoader(driver, POPULARITY_EPOCH, self._half_life_s, indexes)
            else:
                loader = SqliteLoader(
                    driver, POPULARITY_EPOCH, self._half_life_s, indexes, cache_mb
                )
            try:
                await loader.start()
                try:
                    yield loader
                finally:
                    with finishing(loader.finishing_steps) as tracker:
                        await loader.finish(tracker)
            finally:
                await conn.invalidate()

    async def popularity_ranking(self) -> list[tuple[str, float]]:
        """Every item id with its popularity score (0 without interactions), most popular
        first, ties by id (read once a minute by `recommend/passing.py`, not per request)."""
        score = func.coalesce(ContentStats.score, 0.0)
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(ContentRow.content_id, score)
                .join(ContentStats, ContentStats.content_id == ContentRow.content_id, isouter=True)
                .order_by(ContentStats.score.desc().nulls_last(), ContentRow.content_id)
            )
            return [(item, float(s)) for item, s in rows]

    @retry_transient()
    async def item_vectors(self, content_ids: Sequence[str], model: str) -> dict[str, bytes]:
        """Stored vectors of these items: one indexed query through the raw driver (requests)."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return {}
        rows = await self.point_reads.rows(self._vectors_sql, self._listed(ids), model)
        return {row[0]: bytes(row[1]) for row in rows}

    async def item_vectors_by_category(self, model: str) -> AsyncIterator[tuple[str, bytes]]:
        """(category, vector) of every item with a stored vector, streamed (category means)."""
        stmt = (
            select(ContentRow.category, ItemVectorRow.vector)
            .join(ContentRow, ContentRow.content_id == ItemVectorRow.content_id)
            .where(ItemVectorRow.model == model)
        )
        async with self.engine.connect() as conn:
            async for category, vector in await conn.stream(stmt):
                yield category, bytes(vector)

    async def item_vector_digests(self, content_ids: Sequence[str], model: str) -> dict[str, str]:
        return await self._item_vector_column(content_ids, model, ItemVectorRow.digest)

    async def _item_vector_column(
        self, content_ids: Sequence[str], model: str, column: Any
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(content_ids))):
                rows = await conn.execute(
                    select(ItemVectorRow.content_id, column).where(
                        ItemVectorRow.model == model, ItemVectorRow.content_id.in_(chunk)
                    )
                )
                found.update((r[0], r[1]) for r in rows)
        return found

    async def put_item_vectors(self, model: str, rows: Sequence[tuple[str, str, bytes]]) -> None:
        """(content id, text digest, vector bytes) per item, replacing what was stored."""
        if not rows:
            return
        now = utcnow()
        stmt = self._insert(ItemVectorRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["content_id", "model"],
            set_={n: stmt.excluded[n] for n in ("digest", "vector", "updated_at")},
        )
        async with self.sessions.begin() as session:
            await session.execute(
                stmt,
                [
                    {"content_id": c, "model": model, "digest": d, "vector": v, "updated_at": now}
                    for c, d, v in rows
                ],
            )

    # -- anonymous sessions ----------------------------------------------------------------------

    async def merge_session(self, merge: SessionMerged) -> int:
        """Move a session's interactions to the user and queue the merge, in one transaction.

        Returns how many moved; nothing moved writes nothing, so a repeat is a no-op.
        """
        async with self.sessions.begin() as session:
            interactions = cast(Table, InteractionRow.__table__)
            result = await session.execute(
                update(interactions)
                .where(interactions.c.user_id == merge.session)
                .values(user_id=merge.user_id)
            )
            moved = int(result.rowcount)  # type: ignore[attr-defined]
            if not moved:
                return 0
            await session.execute(
                self._insert(User).on_conflict_do_nothing(index_elements=["user_id"]),
                {"user_id": merge.user_id, "created_at": merge.merged_at},
            )
            await session.execute(delete(User).where(User.user_id == merge.session))
            await session.execute(self._insert(OutboxRow), outbox_rows([merge], utcnow()))
        return moved

    # -- a user's data: erasure and export ----------------------------------------------------

    async def delete_user(self, erasure: UserDeleted) -> dict[str, int]:
        """Erase a user's rows and queue the deletion for every consumer, in one transaction.

        Returns how many rows went, per kind. Aggregate popularity keeps their share: it
        names no one.
        """
        async with self.sessions.begin() as session:
            removed = await self._erase_user(session, erasure.user_id)
            await session.execute(
                self._insert(OutboxRow),
                {
                    "event_id": erasure.event_id,
                    "key": erasure.key,
                    "payload": erasure.to_wire(),
                    "created_at": utcnow(),
                    "published_at": None,
                },
            )
        return removed

    async def _erase_user(self, session: AsyncSession, user_id: str) -> dict[str, int]:
        outbox = select(OutboxRow.id).where(OutboxRow.key == user_id)
        if self.dialect == "postgresql":
            # Rows a relay holds right now are being delivered to this very handler (or will
            # be deleted by the relay once sent); waiting on them could deadlock.
            outbox = outbox.with_for_update(skip_locked=True)
        events = await self._erase_from_batches(session, user_id)
        result = await session.execute(
            delete(OutboxRow).where(OutboxRow.id.in_(outbox.scalar_subquery()))
        )
        events += int(result.rowcount)  # type: ignore[attr-defined]
        return {"events": events, **await delete_subject_rows(session, [user_id])}

    async def _erase_from_batches(self, session: AsyncSession, user_id: str) -> int:
        """Take the user's impressions out of the impression batches not yet sent (a sent one
        is gone, `_mark_published`): a few, on the pending index. A batch left empty goes.
        Returns the impressions removed."""
        quoted = orjson.dumps(user_id).decode()
        query = select(OutboxRow.id, OutboxRow.payload).where(
            OutboxRow.published_at.is_(None),
            OutboxRow.event_id.startswith(f"{ImpressionBatch.type}-"),
            sql_cast(OutboxRow.payload, Text).contains(quoted, autoescape=True),
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        outbox = cast(Table, OutboxRow.__table__)
        removed = 0
        for row in (await session.execute(query)).all():
            batch = ImpressionBatch.from_wire(row.payload)
            kept = batch.without_user(user_id)
            removed += len(batch.shown) - len(kept.shown)
            if not kept.shown:
                await session.execute(delete(outbox).where(outbox.c.id == row.id))
            elif len(kept.shown) < len(batch.shown):
                await session.execute(
                    update(outbox).where(outbox.c.id == row.id).values(payload=kept.to_wire())
                )
        return removed

    async def user_export(self, user_id: str) -> dict[str, Any]:
        """Every row held about a user or session subject, as plain JSON-ready values
        (`HeldData`'s fields; the caller names whom they are about).

        Read whole, like the interactions: the impressions name their lists, each list
        (`served_lists`, shared by every copy of a cached answer) is exported once.
        """
        async with self.sessions() as session:
            shown = (
                await session.execute(
                    select(
                        ImpressionRow.recommendation_id,
                        ImpressionRow.shown_ms,
                        ImpressionRow.list_id,
                        ImpressionRow.seen,
                        ImpressionRow.engaged,
                        ImpressionRow.clicked,
                    )
                    .where(ImpressionRow.user_id == user_id)
                    .order_by(ImpressionRow.shown_ms, ImpressionRow.recommendation_id)
                )
            ).all()
            listings: dict[str, str] = {}
            for chunk in _chunks(sorted({r.list_id for r in shown})):
                rows = await session.execute(
                    select(ServedList.list_id, ServedList.listing).where(
                        ServedList.list_id.in_(chunk)
                    )
                )
                listings.update((r.list_id, r.listing) for r in rows)
            arms = await session.scalars(
                select(ExperimentUser)
                .where(ExperimentUser.user_id == user_id)
                .order_by(ExperimentUser.experiment, ExperimentUser.arm)
            )
            experiments = [
                {
                    "experiment": r.experiment,
                    "arm": r.arm,
                    "impressions": r.impressions,
                    "clicks": r.clicks,
                }
                for r in arms
            ]
            days = await session.scalars(
                select(OnlineUser)
                .where(OnlineUser.user_id == user_id)
                .order_by(OnlineUser.day, OnlineUser.model_version, OnlineUser.experiment)
            )
            online = [
                {
                    "day": r.day,
                    "model_version": r.model_version or None,
                    "experiment": r.experiment or None,
                    "arm": r.arm or None,
                }
                for r in days
            ]
            user = await session.get(User, user_id)
            interactions = await session.scalars(
                select(InteractionRow)
                .where(InteractionRow.user_id == user_id)
                .order_by(InteractionRow.id)
            )
            stats = await session.scalars(select(UserStats).where(UserStats.user_id == user_id))
            snapshots = await session.scalars(
                select(RecommendationSnapshot)
                .where(RecommendationSnapshot.user_id == user_id)
                .order_by(RecommendationSnapshot.id)
            )
            return {
                "first_recorded_at": as_utc(user.created_at).isoformat() if user else None,
                "interactions": [
                    {
                        "event_id": r.event_id,
                        "content_id": r.content_id,
                        "interaction_type": r.interaction_type,
                        "duration_seconds": r.duration_seconds,
                        "weight": r.weight,
                        "occurred_at": as_utc(r.occurred_at).isoformat(),
                    }
                    for r in interactions
                ],
                "stats": [
                    {
                        "interaction_type": r.interaction_type,
                        "count": r.count,
                        "first_at": as_utc(r.first_at).isoformat(),
                        "last_at": as_utc(r.last_at).isoformat(),
                    }
                    for r in stats
                ],
                "recommendations_served": [
                    {
                        "model_version": r.model_version,
                        "items": r.items,
                        "served_at": as_utc(r.created_at).isoformat(),
                    }
                    for r in snapshots
                ],
                "impressions": [
                    {
                        "recommendation_id": r.recommendation_id,
                        "shown_at": from_ms(r.shown_ms).isoformat(),
                        "list_id": r.list_id,
                        "seen_positions": r.seen,
                        "engaged": [t.value for t, bit in TYPE_BITS.items() if r.engaged & bit],
                        "clicked_positions": r.clicked or [],
                    }
                    for r in shown
                ],
                "served_lists": [
                    _exported_list(list_id, listing) for list_id, listing in listings.items()
                ],
                "experiments": experiments,
                "online_metrics": online,
                "dead_letters": await exported_dead_letters(session, user_id),
                "parked_reports": await exported_parked_reports(session, user_id),
            }

    # -- the training count --------------------------------------------------------------------

    @staticmethod
    async def _count_applied(session: AsyncSession, n: int) -> TrainingCount:
        """Add `n` applied events to the shared count: one statement per batch, however many
        workers (the row is hot at millions of events a day)."""
        stmt = update(_COUNTS).values(events=_COUNTS.c.events + n)
        return _training_count((await session.execute(stmt.returning(*_COUNT))).one())

    @retry_transient()
    async def training_count(self) -> TrainingCount:
        async with self.sessions() as session:
            row = (await session.execute(select(*_COUNT))).one()
        return _training_count(row)

    async def count_next_round_from_now(self) -> int:
        """Count the next round's events from the count now, which it returns: at a round's
        start (should it fail, or never end, its process killed, the next waits as many
        events again) and at its failure (the events applied meanwhile count for none)."""
        stmt = update(_COUNTS).values(due_from=_COUNTS.c.events).returning(_COUNTS.c.events)
        async with self.sessions.begin() as session:
            return int((await session.execute(stmt)).scalar_one())

    @retry_transient()
    async def round_completed(self, started_with: int) -> None:
        """A round learnt from the stored events: the `started_with` events counted when it
        started go (those applied meanwhile stay counted), and the next is due from 0.

        Only while `due_from` still reads what the round's start set, which makes it safe to
        repeat (a retry after a reply lost on the way finds 0) and leaves the count to a round
        started since (a worker whose lock went with its connection): that one learns from
        these events too and takes them off itself.
        """
        stmt = (
            update(_COUNTS)
            .where(_COUNTS.c.due_from == started_with)
            .values(events=_COUNTS.c.events - started_with, due_from=0)
        )
        async with self.sessions.begin() as session:
            await session.execute(stmt)

    # -- models and snapshots ------------------------------------------------------------------

    async def save_model_version(self, info: ModelVersion) -> None:
        stmt = self._insert(ModelVersionRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["version"],
            set_={"status": stmt.excluded.status, "metrics": stmt.excluded.metrics},
        )
        async with self.sessions.begin() as session:
            if info.status == "active":
                await session.execute(
                    update(ModelVersionRow)
                    .where(ModelVersionRow.status == "active")
                    .values(status="retired")
                )
            await session.execute(
                stmt,
                {
                    "version": info.version,
                    "created_at": info.created_at,
                    "status": info.status,
                    "metrics": info.metrics,
                    "n_users": info.n_users,
                    "n_items": info.n_items,
                    "n_interactions": info.n_interactions,
                    "train_seconds": info.train_seconds,
                },
            )

    async def model_versions(self, limit: int = 50) -> list[ModelVersion]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ModelVersionRow).order_by(ModelVersionRow.created_at.desc()).limit(limit)
            )
            return [
                ModelVersion(
                    version=r.version,
                    created_at=as_utc(r.created_at),
                    status=r.status,
                    metrics={k: float(v) for k, v in (r.metrics or {}).items()},
                    n_users=r.n_users,
                    n_items=r.n_items,
                    n_interactions=r.n_interactions,
                    train_seconds=r.train_seconds,
                )
                for r in rows
            ]

    async def save_snapshots(
        self, snapshots: Sequence[tuple[str, str | None, list[dict[str, Any]]]]
    ) -> None:
        if not snapshots:
            return
        now = utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                self._insert(RecommendationSnapshot),
                [
                    {"user_id": u, "model_version": v, "items": items, "created_at": now}
                    for u, v, items in snapshots
                ],
            )


def _exported_list(list_id: str, listing: str) -> dict[str, Any]:
    """A served list as its impressions showed it: position, item and score, and whom it
    was served by (model version, experiment arm; per position when interleaved)."""
    try:
        items, version, experiment, arm, teams = list_head(listing)
    except (TypeError, ValueError):  # a list this version cannot read: as it is stored
        return {"list_id": list_id, "items": [], "listing": listing}
    return {
        "list_id": list_id,
        "model_version": version,
        "experiment": experiment,
        "arm": arm,
        "teams": teams,
        "items": [
            {"position": n, "content_id": content_id, "score": score}
            for n, (content_id, score) in enumerate(items, start=1)
        ],
    }


def _columns(rows: Sequence[Sequence[Any]]) -> InteractionColumns:
    """Driver rows of (user, item, weight, seconds) as columns."""
    users, items, weights, times = zip(*rows, strict=True)
    return InteractionColumns(list(users), list(items), list(weights), [float(t) for t in times])
