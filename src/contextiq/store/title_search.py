"""The catalogue listing's search (`GET /content?q=`): items whose title or id holds the query,
ignoring case, as plain text (`%` and `_` match themselves).

A scan lowered every title and id of the catalogue per search (89-375 ms at 100,000 items on
SQLite), so both databases keep a trigram index, built by migration 0015:

- PostgreSQL: a GIN index of `pg_trgm` trigrams over `lower(title)` and `lower(content_id)`,
  which the planner takes by itself for the scan's own `LIKE '%q%'`;
- SQLite: the FTS5 table `content_search` (`trigram` tokenizer, case-sensitive), holding each
  item's title and id lowered by the same `lower` as the scan (Python's, store/engine.py)
  under the item's rowid (which VACUUM keeps). A quoted phrase of the lowered query is then
  the scan's own substring test: its trigrams, one after the other. The store's writes keep
  it in step, in their own transactions (`reindex`, `forget`), a statement per batch of
  items: triggers on `content` did it row by row, and FTS5 writes its pending index out at
  each trigger's statement, which made an import 35-95 % slower where this costs it about
  25 % more CPU (docs/benchmarks.md, "Searching the catalogue listing").

A trigram needs three characters: a shorter query scans, as before (`INDEXED_LENGTH`); so does
every query on a SQLite too old for the trigram tokenizer, where 0015 built no table (`present`).
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.store.tables import ContentRow

#: SQLite's FTS5 table of the lowered titles and ids; FTS5 keeps its index in `<name>_*`.
SQLITE_TABLE = "content_search"
#: The shortest query a trigram index can answer (shorter ones have no trigram).
INDEXED_LENGTH = 3
#: Up to this many matches, SQLite reads them all and sorts them for a page; past it, a page
#: walks the listing's index, newest first, and stops once it is full: it reads about
#: page x catalogue / matches entries, fewer than a sort reads rows once matches are common.
SORTED_MATCHES = 2_000

_SEARCH = table(SQLITE_TABLE, column("rowid"))
_NAMED = "SELECT rowid FROM content WHERE content_id IN (SELECT value FROM json_each(:ids))"
_FORGET = text(f"DELETE FROM {SQLITE_TABLE} WHERE rowid IN ({_NAMED})")
_INDEX = text(
    f"INSERT INTO {SQLITE_TABLE} (rowid, title, content_id)"
    " SELECT rowid, lower(title), lower(content_id) FROM content"
    " WHERE content_id IN (SELECT value FROM json_each(:ids))"
)


async def present(session: AsyncSession) -> bool:
    """Whether SQLite's FTS5 table exists (migration 0015 builds none before SQLite 3.34)."""
    found = await session.scalar(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": SQLITE_TABLE},
    )
    return found is not None


async def reindex(session: AsyncSession, content_ids: Collection[str]) -> None:
    """On SQLite, index the stored rows of `content_ids` again (written or rewritten)."""
    await forget(session, content_ids)
    if content_ids:
        await session.execute(_INDEX, {"ids": orjson.dumps(list(content_ids)).decode()})


async def forget(session: AsyncSession, content_ids: Collection[str]) -> None:
    """On SQLite, drop the index rows of `content_ids`' stored rows (before they go)."""
    if content_ids:
        await session.execute(_FORGET, {"ids": orjson.dumps(list(content_ids)).decode()})


def scan(query: str) -> ColumnElement[bool]:
    """The search's meaning, tested row by row: `query` lowered, a substring of the lowered
    title or id."""
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        func.lower(ContentRow.title).like(pattern, escape="\\"),
        func.lower(ContentRow.content_id).like(pattern, escape="\\"),
    )


@dataclass(frozen=True, slots=True)
class TitleSearch:
    query: str
    #: The rowids of the FTS5 table's matches; None where the LIKE is the query (PostgreSQL,
    #: whose planner takes its index for it, a SQLite with no FTS5 table, and queries under
    #: `INDEXED_LENGTH`).
    matches: Select[Any] | None

    @classmethod
    def of(cls, query: str, fts: bool) -> "TitleSearch":
        """`fts`: whether SQLite's FTS5 table is there to read."""
        lowered = query.lower()
        # FTS5 reads a string to its first NUL, a syntax error in a phrase: such a query
        # (no title holds one) scans, as it did.
        if not fts or len(lowered) < INDEXED_LENGTH or "\0" in lowered:
            return cls(query, None)
        phrase = '"' + lowered.replace('"', '""') + '"'
        matches = select(_SEARCH.c.rowid).where(literal_column(SQLITE_TABLE).op("MATCH")(phrase))
        return cls(query, matches)

    def count(self, listing: Select[Any]) -> Select[Any]:
        """How many items of `listing` match: from the FTS5 table alone when `listing` is the
        whole catalogue (no category), where counting through `content` reads each match."""
        if self.matches is not None and listing.whereclause is None:
            return select(func.count()).select_from(self.matches.subquery())
        return select(func.count()).select_from(listing.where(self.where(0)).subquery())

    def where(self, matching: int) -> ColumnElement[bool]:
        """The listing's condition, for a search `count` said has `matching` items."""
        if self.matches is None:
            return scan(self.query)
        # A unary + keeps SQLite's planner off the rowid lookup, so it walks the listing index.
        rowid = "content.rowid" if matching <= SORTED_MATCHES else "+content.rowid"
        return literal_column(rowid).in_(self.matches)


def compared(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic's `include_name`: False for the FTS5 table and its shadow tables, which
    `tables.py` does not declare, so autogenerate and the schema check leave them alone."""
    return not (type_ == "table" and name is not None and name.startswith(SQLITE_TABLE))
