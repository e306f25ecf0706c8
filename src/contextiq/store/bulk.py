"""Bulk loading of interactions through each database's fast path, with stats folded in at the end.

A live interaction goes through `Store.record_interactions`: an outbox row per event, then the
worker folds it into the stats tables. For millions of past events that path is the wrong
shape (5 million outbox rows, 5 million processed-event rows, a small transaction per batch),
so a bulk load:

- writes interactions only, in large transactions that span several chunks until the caller
  commits (`data/load.Transactions`): `executemany` on SQLite, `COPY` into a temporary staging
  table then one `INSERT … SELECT … ON CONFLICT DO NOTHING` on PostgreSQL; an event id already
  stored is skipped, so loading the same file twice adds nothing;
- records the id ranges it inserted in `import_pending`, in the same transaction as the rows
  (SQLite's single writer numbers a transaction's rows contiguously; on PostgreSQL the
  inserted ids are folded into runs);
- at the end adds the pending rows to `users`, `user_stats` and `content_stats` with one
  aggregate query each, adding to what is there, and clears `import_pending` in the same
  transaction. The result equals folding the same events one by one; live traffic recorded
  meanwhile (still on its way through the outbox) is not counted twice; and rows of an import
  that was killed before its end are folded by the next one.

No outbox rows are written: bulk-loaded events are history, not fresh traffic towards the next
retraining.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from contextiq.domain import Interaction
from contextiq.progress import Tracker
from contextiq.store.popularity import EXPONENT_BOUND, growth

_COLUMNS = (
    "event_id",
    "user_id",
    "content_id",
    "interaction_type",
    "duration_seconds",
    "weight",
    "occurred_at",
)
_COLS = ", ".join(_COLUMNS)
#: Where a row of `interaction_rows` holds the item's id, and the subject's.
CONTENT_ID = _COLUMNS.index("content_id")
USER_ID = _COLUMNS.index("user_id")
Row = tuple[Any, ...]
_PENDING = "import_pending p JOIN interactions i ON i.id BETWEEN p.lo AND p.hi"


class BulkLoader(Protocol):
    """Loads interactions in chunks on one connection; `finish` folds them into the stats."""

    #: The driver's form of a time for `interaction_rows`: a module-level function, so that
    #: an import's parsing processes can be handed it.
    time_form: Callable[[datetime], Any]

    async def add(self, rows: Sequence[Row]) -> int:
        """Insert a chunk of `interaction_rows` in the open transaction (opened if there is
        none); returns how many were new. A failure rolls the whole transaction back."""
        ...

    async def commit(self) -> None:
        """Commit the chunks added since the last commit (nothing when none were); a failed
        commit leaves them rolled back."""
        ...

    @property
    def finishing_steps(self) -> int:
        """How many statements `finish` runs (the stats fold, then the index builds)."""
        ...

    async def finish(self, tracker: Tracker) -> None:
        """Commit what is still open, fold the loaded rows into stats and rebuild the indexes, a
        step at a time: about a minute at 5,000,000 rows, so `tracker` is advanced once per
        statement."""
        ...


@dataclass(frozen=True, slots=True)
class Indexes:
    """The interactions' secondary indexes: dropped when a load starts on an empty table and
    built once at its end (a sort, several times faster than keeping them up to date row by
    row); created if missing when a load starts on a filled table, which repairs a load that
    was killed before its end."""

    drop: list[str]
    create: list[str]


@dataclass(frozen=True, slots=True)
class _Dialect:
    """The few words the fold's SQL spells differently; `{}` placeholders are positional."""

    least: str
    greatest: str
    #: seconds since the popularity epoch (the first parameter) of `i.occurred_at`
    age_s: str
    #: 2^x of the SQL put in `{}`, x held within ±`EXPONENT_BOUND` (`popularity.growth`)
    exp2: str
    where: str  # SQLite's UPSERT needs a WHERE after a join; PostgreSQL takes one too


def fold_statements(d: _Dialect, param: list[str]) -> list[str]:
    """Users, per-user counts and popularity of the pending rows, added to what is stored.

    `param` spells the values: [popularity epoch, half-life in seconds, now], as numbered
    placeholders (`?1`, `$2`) or SQL; `bound` says how many values each statement takes.
    """
    epoch, half_life, now = param
    age = f"{d.age_s.format(epoch)} / {half_life}"
    return [
        "INSERT INTO users (user_id, created_at) "
        f"SELECT DISTINCT i.user_id, {now} FROM {_PENDING} {d.where} "
        "ON CONFLICT (user_id) DO NOTHING",
        "INSERT INTO user_stats (user_id, interaction_type, count, first_at, last_at) "
        "SELECT i.user_id, i.interaction_type, count(*), min(i.occurred_at), max(i.occurred_at) "
        f"FROM {_PENDING} {d.where} GROUP BY i.user_id, i.interaction_type "
        "ON CONFLICT (user_id, interaction_type) DO UPDATE SET "
        "count = user_stats.count + excluded.count, "
        f"first_at = {d.least}(user_stats.first_at, excluded.first_at), "
        f"last_at = {d.greatest}(user_stats.last_at, excluded.last_at)",
        "INSERT INTO content_stats (content_id, score, interactions, updated_at) "
        f"SELECT i.content_id, sum(i.weight * {d.exp2.format(age)}), "
        f"count(*), {now} FROM {_PENDING} WHERE i.weight > 0 GROUP BY i.content_id "
        "ON CONFLICT (content_id) DO UPDATE SET "
        "score = content_stats.score + excluded.score, "
        "interactions = content_stats.interactions + excluded.interactions, "
        "updated_at = excluded.updated_at",
        "DELETE FROM import_pending",
    ]


_SQLITE = _Dialect(
    least="min",
    greatest="max",
    age_s="(julianday(i.occurred_at) - julianday({})) * 86400.0",
    exp2="ciq_exp2({})",
    where="WHERE true",
)
_POSTGRES = _Dialect(
    least="least",
    greatest="greatest",
    age_s="extract(epoch FROM i.occurred_at - {}::timestamptz)::float8",
    exp2=f"2.0::float8 ^ least(greatest({{}}, -{EXPONENT_BOUND}), {EXPONENT_BOUND})",
    where="",
)


def bound(sql: str) -> int:
    """The highest numbered placeholder in `sql`: how many values it binds."""
    return max((int(n) for n in re.findall(r"[?$](\d+)", sql)), default=0)


def sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy writes for a DateTime on SQLite: UTC, always with microseconds."""
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    return utc.isoformat(" ", "microseconds")[:26]


def postgres_time(value: datetime) -> datetime:
    """asyncpg's COPY takes the datetime itself."""
    return value


def interaction_rows(
    items: Sequence[Interaction], time_form: Callable[[datetime], Any]
) -> list[Row]:
    """Values in `_COLUMNS` order, the time in the driver's form (`BulkLoader.time_form`)."""
    return [
        (
            i.event_id,
            i.user_id,
            i.content_id,
            i.interaction_type.value,
            i.duration_seconds,
            i.weight,
            time_form(i.occurred_at),
        )
        for i in items
    ]


#: The page cache while the stats are folded and the indexes built. Their sorts may each hold
#: records up to the page cache's size in memory besides it (SQLite's sorter), which at the
#: rows' 512 MB lifted an import's peak from about 1.5 to 1.9 GB; with this much it stayed at
#: the rows' peak and took no longer (docs/benchmarks.md, "The page cache while folding").
FINISH_CACHE_MB = 64


class SqliteLoader:
    """`executemany` into a transaction held until `commit`, with a large page cache for the
    indexes.

    Each commit writes every page it dirtied to the WAL, and the checkpoint copies them again;
    index pages dirtied by many small transactions are written over and over (the old path,
    5,000 rows per transaction plus outbox and processed-event rows, wrote ~40x the database's
    size). Random event ids dirty nearly every page of their unique index in any large chunk,
    so the writes fall with the number of commits (docs/benchmarks.md, "Fewer commits").
    """

    def __init__(
        self, conn: Any, epoch: datetime, half_life_s: float, indexes: Indexes, cache_mb: int
    ) -> None:
        self.conn = conn
        self.epoch = epoch
        self.half_life_s = half_life_s
        self.indexes = indexes
        self.cache_mb = cache_mb
        self.time_form: Callable[[datetime], Any] = sqlite_time

    async def start(self) -> None:
        await self.conn.execute(f"PRAGMA cache_size = {-1024 * self.cache_mb}")
        # SQLite's pow() needs a compile-time option; a registered function does not.
        await self.conn.create_function("ciq_exp2", 1, growth, deterministic=True)
        cursor = await self.conn.execute("SELECT 1 FROM interactions LIMIT 1")
        for sql in self.indexes.drop if await cursor.fetchone() is None else self.indexes.create:
            await self.conn.execute(sql)
        await self.conn.commit()

    async def _max_id(self) -> int:
        cursor = await self.conn.execute("SELECT coalesce(max(id), 0) FROM interactions")
        row = await cursor.fetchone()
        return int(row[0])

    async def add(self, rows: Sequence[Row]) -> int:
        if not self.conn.in_transaction:
            await self.conn.execute("BEGIN IMMEDIATE")  # the write lock: our ids are contiguous
        try:
            before = await self._max_id()
            await self.conn.executemany(
                f"INSERT INTO interactions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (event_id) DO NOTHING",
                rows,
            )
            after = await self._max_id()
            if after > before:
                await self.conn.execute(
                    "INSERT INTO import_pending (lo, hi) VALUES (?, ?)", (before + 1, after)
                )
        except BaseException:
            await self.conn.rollback()
            raise
        return after - before

    async def commit(self) -> None:
        try:
            await self.conn.commit()
        except BaseException:  # SQLite keeps a transaction whose COMMIT failed open
            await self.conn.rollback()
            raise

    @property
    def finishing_steps(self) -> int:
        return len(fold_statements(_SQLITE, ["?1", "?2", "?3"])) + len(self.indexes.create)

    async def finish(self, tracker: Tracker) -> None:
        await self.commit()
        await self.conn.execute(f"PRAGMA cache_size = {-1024 * FINISH_CACHE_MB}")
        values = (sqlite_time(self.epoch), self.half_life_s, sqlite_time(datetime.now(UTC)))
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            for sql in fold_statements(_SQLITE, ["?1", "?2", "?3"]):
                await self.conn.execute(sql, values[: bound(sql)])
                tracker.advance(1)
            for sql in self.indexes.create:
                await self.conn.execute(sql)
                tracker.advance(1)
            await self.conn.commit()
        except BaseException:
            await self.conn.rollback()
            raise


class PostgresLoader:
    """`COPY` into a temporary staging table, then one insert that skips stored event ids."""

    def __init__(self, conn: Any, epoch: datetime, half_life_s: float, indexes: Indexes) -> None:
        self.conn = conn
        self.epoch = epoch
        self.half_life_s = half_life_s
        self.indexes = indexes
        self.time_form: Callable[[datetime], Any] = postgres_time
        self._open: Any = None  # asyncpg's Transaction, between an add and its commit

    async def start(self) -> None:
        # The service's 5 s statement timeout is for requests; an import's fold takes longer.
        await self.conn.execute("SET statement_timeout = 0")
        # Its 60 s idle-in-transaction limit is for a relay that died holding its claim. An
        # import's transaction waits while the next chunk is parsed, and for as long as the
        # process is paused (Ctrl-Z, a terminal's Ctrl-S); it holds only rows it added.
        await self.conn.execute("SET idle_in_transaction_session_timeout = 0")
        await self.conn.execute("SET synchronous_commit = off")
        await self.conn.execute("SET maintenance_work_mem = '256MB'")
        empty = await self.conn.fetchval("SELECT 1 FROM interactions LIMIT 1") is None
        for sql in self.indexes.drop if empty else self.indexes.create:
            await self.conn.execute(sql)
        await self.conn.execute(
            "CREATE TEMP TABLE import_staging (event_id varchar(128), user_id varchar(128), "
            "content_id varchar(128), interaction_type varchar(16), duration_seconds float8, "
            "weight float8, occurred_at timestamptz)"
        )

    async def add(self, rows: Sequence[Row]) -> int:
        if self._open is None:
            self._open = self.conn.transaction()
            await self._open.start()
        try:
            await self.conn.copy_records_to_table("import_staging", records=rows, columns=_COLUMNS)
            # Inserted ids folded into runs (gaps and islands): one range per chunk unless
            # live traffic drew ids from the sequence in between.
            runs = await self.conn.fetch(
                f"WITH ins AS (INSERT INTO interactions ({_COLS}) SELECT {_COLS} "
                "FROM import_staging ON CONFLICT (event_id) DO NOTHING RETURNING id), "
                "runs AS (SELECT id, id - row_number() OVER (ORDER BY id) AS run FROM ins) "
                "INSERT INTO import_pending (lo, hi) SELECT min(id), max(id) FROM runs "
                "GROUP BY run RETURNING hi - lo + 1"
            )
            await self.conn.execute("TRUNCATE import_staging")
        except BaseException:
            opened, self._open = self._open, None
            await opened.rollback()
            raise
        return sum(int(r[0]) for r in runs)

    async def commit(self) -> None:
        if self._open is not None:
            opened, self._open = self._open, None
            await opened.commit()

    @property
    def finishing_steps(self) -> int:
        return len(fold_statements(_POSTGRES, ["$1", "$2", "now()"])) + len(self.indexes.create)

    async def finish(self, tracker: Tracker) -> None:
        await self.commit()
        async with self.conn.transaction():
            # One fold at a time: two would both count the same pending rows.
            await self.conn.execute("LOCK TABLE import_pending IN SHARE ROW EXCLUSIVE MODE")
            values = (self.epoch, self.half_life_s)
            for sql in fold_statements(_POSTGRES, ["$1", "$2", "now()"]):
                await self.conn.execute(sql, *values[: bound(sql)])
                tracker.advance(1)
            for sql in self.indexes.create:
                await self.conn.execute(sql)
                tracker.advance(1)
