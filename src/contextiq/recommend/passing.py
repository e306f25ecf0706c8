"""The items a request's mask lets through, most popular or newest first, read from memory.

A filter few items pass (an archive of old items, a `created_at` range) can leave the
model's candidates, or the popular and fresh listings paged from the database, short of a
list: at 100,000 items those listings were paged 25 times for no item at all (1 to 3 s). The
mask the request has already computed is ranked here instead: by each item's place in the
store's popularity order (`Store.popularity_ranking`, read when first needed and again in
the background once it is `REFRESH_SECONDS` old) or by its creation time in the catalogue
columns. A request costs a vectorised copy of its mask and a partial sort of the rows that
pass: no Python pass over the catalogue.
"""

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contextiq.domain import Content
from contextiq.ml.base import ItemMask
from contextiq.recommend.catalog import Catalog
from contextiq.rules.columns import CatalogColumns
from contextiq.store.store import Store

log = logging.getLogger(__name__)

#: How old the popularity order may get before it is read again (popularity is decayed over
#: days, so a minute moves little); the request that finds it older still uses it meanwhile.
REFRESH_SECONDS = 60.0
Rows = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Ranking:
    """The store's popularity order at one moment: each item's place and score."""

    place: dict[str, int]
    scores: npt.NDArray[np.float64]
    read_at: float


@dataclass(frozen=True, slots=True)
class _Aligned:
    """A ranking laid over one `CatalogColumns`' rows (items it lacks rank last)."""

    ranking: _Ranking
    places: Rows
    scores: npt.NDArray[np.float64]


def _aligned(ranking: _Ranking, ids: list[str]) -> _Aligned:
    last = len(ranking.scores)
    places = np.fromiter((ranking.place.get(i, last) for i in ids), np.int64, len(ids))
    scores = np.append(ranking.scores, 0.0)[places]
    return _Aligned(ranking, places, scores)


def passing_rows(allowed: ItemMask, excluded: Collection[str], columns: CatalogColumns) -> Rows:
    """The rows `allowed` lets through, less the `excluded` items'."""
    mask = allowed.copy()
    gone = [r for i in excluded if (r := columns.index.get(i)) is not None and r < len(mask)]
    mask[gone] = False
    return np.flatnonzero(mask)


def best(rows: Rows, keys: npt.NDArray[np.float64] | Rows, n: int) -> Rows:
    """Up to `n` of `rows`, smallest key first (ties by row); `keys` are the rows' own."""
    if len(rows) > n:
        kept = np.argpartition(keys, n - 1)[:n] if n > 0 else np.zeros(0, np.int64)
        rows, keys = rows[kept], keys[kept]
    return rows[np.lexsort((rows, keys))]


class PassingItems:
    """Ranks a request's passing items by popularity or by creation, and reads their rows."""

    def __init__(
        self, store: Store, catalog: Catalog, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.refresh_seconds = refresh_seconds
        self._ranking: _Ranking | None = None
        self._first = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self._aligned: weakref.WeakKeyDictionary[CatalogColumns, _Aligned] = (
            weakref.WeakKeyDictionary()
        )

    async def popular(
        self,
        columns: CatalogColumns,
        allowed: ItemMask,
        skip: Collection[str],
        n: int,
        check: Callable[[Content], bool],
        generation: int | None,
    ) -> list[tuple[Content, float]]:
        """The `n` most popular items `allowed` passes, but `skip`, with their scores;
        each row is `check`ed again (the columns may trail a write by a moment)."""
        aligned = await self._over(columns)
        rows = passing_rows(allowed[: len(aligned.places)], skip, columns)
        rows = best(rows, aligned.places[rows], n)
        found = await self._contents(columns, rows, check, generation)
        return [(c, float(aligned.scores[r])) for r, c in found]

    async def newest(
        self,
        columns: CatalogColumns,
        allowed: ItemMask,
        skip: Collection[str],
        n: int,
        check: Callable[[Content], bool],
        generation: int | None,
    ) -> list[Content]:
        """The `n` newest items `allowed` passes, but `skip` (items without a time last)."""
        rows = passing_rows(allowed[: len(columns.created)], skip, columns)
        keys = np.nan_to_num(-columns.created[rows], nan=np.inf)
        found = await self._contents(columns, best(rows, keys, n), check, generation)
        return [c for _, c in found]

    async def _contents(
        self,
        columns: CatalogColumns,
        rows: Rows,
        check: Callable[[Content], bool],
        generation: int | None,
    ) -> list[tuple[int, Content]]:
        ids = [columns.ids[r] for r in rows.tolist()]
        contents = await self.catalog.get_many(ids, generation)
        return [
            (r, c)
            for r, i in zip(rows.tolist(), ids, strict=True)
            if (c := contents.get(i)) is not None and check(c)
        ]

    async def _over(self, columns: CatalogColumns) -> _Aligned:
        """The current ranking over `columns`' rows, laid again when either changed."""
        ranking = await self._current()
        aligned = self._aligned.get(columns)
        if aligned is None or aligned.ranking is not ranking or len(aligned.places) < len(columns):
            aligned = await asyncio.to_thread(_aligned, ranking, list(columns.ids))
            self._aligned[columns] = aligned
        return aligned

    async def _current(self) -> _Ranking:
        """The ranking: read by the first caller, then refreshed without anyone waiting."""
        if self._ranking is None:
            async with self._first:
                if self._ranking is None:
                    self._ranking = await self._read()
        elif self._refreshing is None and (
            time.monotonic() - self._ranking.read_at >= self.refresh_seconds
        ):
            self._refreshing = asyncio.create_task(self._refresh())
        return self._ranking

    async def _refresh(self) -> None:
        try:
            self._ranking = await self._read()
        except Exception:  # the old order serves on; the next request tries again
            log.exception("reading the popularity order failed")
        finally:
            self._refreshing = None

    async def _read(self) -> _Ranking:
        read_at = time.monotonic()
        ranked = await self.store.popularity_ranking()
        place = {item: n for n, (item, _) in enumerate(ranked)}
        scores = np.fromiter((s for _, s in ranked), np.float64, len(ranked))
        return _Ranking(place, scores, read_at)
