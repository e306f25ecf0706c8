"""A request's filters, and the catalogue columns they are evaluated on.

`Filters` is what the API parses from a request (exclude, categories, filter=...);
`FilterColumns` keeps one `CatalogColumns` per process for the serving model, patched with
the rows written since whenever the shared catalogue generation moves, so a filtered
request costs one cached vectorised evaluation plus the clock check for availability.
A field a filter needs first is built off the event loop and outside the columns' lock, so
requests that need no new field never wait for one.
"""

import asyncio
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contextiq.domain import Content
from contextiq.ml.base import ItemMask, Recommender
from contextiq.rules.columns import CatalogColumns
from contextiq.rules.expression import And, Expr, Field, Member, parse
from contextiq.rules.predicate import matches
from contextiq.store.store import Store, utcnow

#: Rows are re-read this far back: writers' clocks and commit order may lag a little.
CLOCK_SLACK = timedelta(seconds=30)
#: Builds outside the lock refused (the catalogue changed too much meanwhile) before one is
#: made in place, holding the lock.
BUILD_TRIES = 3
CATEGORY = Field(("category",))


@dataclass(frozen=True, slots=True)
class Filters:
    """What a request allows, on top of availability (which always applies)."""

    exclude: frozenset[str] = frozenset()
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    #: The `filter=` text; parsed (and cached) on use: the API has parsed it once already.
    expression: str | None = None

    @property
    def expr(self) -> Expr | None:
        """All but `exclude` as one expression (None: everything passes)."""
        parts: list[Expr] = []
        if self.categories:
            parts.append(Member(CATEGORY, self.categories, negated=False))
        if self.exclude_categories:
            parts.append(Member(CATEGORY, self.exclude_categories, negated=True))
        if self.expression is not None:
            parts.append(parse(self.expression))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    @property
    def active(self) -> bool:
        return bool(self.exclude or self.expr is not None)

    def allows(self, content: Content, now: datetime) -> bool:
        """The per-item check: available, not excluded, and passing the expression."""
        if not content.available(now) or content.content_id in self.exclude:
            return False
        expr = self.expr
        return expr is None or matches(expr, content)

    def cache_part(self) -> str:
        """Part of the response cache key: one cached list per distinct set of filters.

        JSON, so no value can spell another request's key: a separator inside an id or a
        category name (`exclude=a|b` against `exclude=a&categories=b`) shared a list.
        """
        parts = [sorted(self.exclude), self.categories, self.exclude_categories, self.expression]
        return json.dumps(parts, separators=(",", ":"))


NO_FILTERS = Filters()


@dataclass
class _Served:
    """One model's columns and how current they are."""

    columns: CatalogColumns
    generation: int | None
    since: datetime


class FilterColumns:
    """Each serving model's `CatalogColumns`, kept current with the catalogue's writes.

    Keyed by model object (weakly), so an experiment serving two models keeps two, and a
    replaced model's columns go with it. Building and materialising run off the event loop.

    `_lock` guards the columns: reading, patching, evaluating (all brief). A new field is
    built under `_building` only (one build at a time, so concurrent requests for the same
    field build it once), from a copy taken under `_lock`, and swapped in under it again.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = asyncio.Lock()
        self._building = asyncio.Lock()
        self._served: weakref.WeakKeyDictionary[Recommender, _Served] = weakref.WeakKeyDictionary()

    async def columns(self, model: Recommender, generation: int | None) -> CatalogColumns:
        async with self._lock:
            return await self._current(model, generation)

    async def _current(self, model: Recommender, generation: int | None) -> CatalogColumns:
        served = self._served.get(model)
        started = utcnow()
        moved = served is not None and (generation is None or generation != served.generation)
        if served is None:
            known = list(model.item_ids)
            contents = await self.store.all_content()
            columns = await asyncio.to_thread(_built, known, contents)
            served = self._served[model] = _Served(columns, generation, started - CLOCK_SLACK)
        elif moved:
            served.columns.update(await self.store.content_updated_since(served.since))
            served.since = started - CLOCK_SLACK
        columns = served.columns
        ids = model.item_ids
        if len(ids) > len(columns):  # items folded into the model since
            fresh = list(ids[len(columns) :])
            columns.extend(fresh)
            columns.update(list((await self.store.get_contents(fresh)).values()))
        if moved:
            await self._forget_deleted(columns)
        served.generation = generation
        return columns

    async def _forget_deleted(self, columns: CatalogColumns) -> None:
        """Deleted items made unavailable. A delete leaves no row to read since, only fewer
        items than the columns hold, so the ids are read only when the counts differ."""
        if await self.store.content_count() != columns.present:
            columns.keep_only(set(await self.store.content_ids()))

    async def mask(
        self, model: Recommender, filters: Filters, generation: int | None, now: datetime
    ) -> tuple[ItemMask, CatalogColumns]:
        """Which of the model's items this request may return at `now`."""
        expr = filters.expr
        async with self._lock:  # one reader or writer of the columns at a time
            columns = await self._current(model, generation)
            if expr is None or columns.has_fields(expr):
                return _allowed(columns, expr, now), columns
        return await self._mask_building(model, expr, generation, now)

    async def _mask_building(
        self, model: Recommender, expr: Expr, generation: int | None, now: datetime
    ) -> tuple[ItemMask, CatalogColumns]:
        """`mask` for an expression reading fields not built yet: build them, lock released."""
        async with self._building:
            for _ in range(BUILD_TRIES):
                async with self._lock:
                    columns = await self._current(model, generation)
                    missing = columns.missing(expr)
                    if not missing:  # built meanwhile, or no item has the paths
                        return _allowed(columns, expr, now), columns
                    build = columns.snapshot(missing)
                built = await asyncio.to_thread(build.run)
                async with self._lock:
                    if columns.install(build, built) and columns.has_fields(expr):
                        return _allowed(columns, expr, now), columns
            async with self._lock:  # the catalogue kept changing under the builds
                columns = await self._current(model, generation)
                await asyncio.to_thread(columns.materialise, expr)
                return _allowed(columns, expr, now), columns


def _allowed(columns: CatalogColumns, expr: Expr | None, now: datetime) -> ItemMask:
    """Available at `now` and passing `expr` (whose fields are all built: this is cheap)."""
    allowed = columns.available(now)  # shared and read-only: combined into a new one
    if expr is not None:
        allowed = allowed & columns.mask(expr)
    return allowed


def _built(ids: list[str], contents: Sequence[Content]) -> CatalogColumns:
    columns = CatalogColumns(ids)
    columns.update(contents)
    return columns
