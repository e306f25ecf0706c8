"""Upserts and deletes of content, done the same way by the API, imports and tests.

A catalogue write touches three things that must move together: the stored rows, the live
model (new items become scorable through their features) and the shared catalogue generation
(every replica drops its cached lists and in-process metadata on its next request). With
`local://`, the items' text vectors are then computed in the background and stored, so
requests score them without running the model. Routes call
this service; none of them does the steps itself.

Other processes learn of a write through `watch`: when the shared generation moves, or the
newest `updated_at` in the store does (a write from a process that does not share this one's
cache, such as an import beside a server on `memory://`), each reads the rows written since
its last look (an indexed range on `updated_at`) and folds the new items into its own model,
so every replica scores them within a second or two.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contextiq.domain import Content
from contextiq.llm.item_vectors import ItemVectors
from contextiq.recommend.filters import NO_FILTERS, FilterColumns, Filters
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.store import Store, utcnow

log = logging.getLogger(__name__)

#: Rows are re-read this far back: writers' clocks and commit order may lag a little.
#: Re-reading is harmless, since the model skips items it already knows.
CLOCK_SLACK = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Similar:
    content: Content
    #: The model's similarity; 0.0 for the same-category fallback.
    score: float


class CatalogService:
    def __init__(
        self,
        store: Store,
        models: ModelHolder,
        rec_cache: RecommendationCache,
        columns: FilterColumns,
        vectors: ItemVectors | None = None,
    ) -> None:
        self.store = store
        self.models = models
        self.rec_cache = rec_cache
        self.columns = columns
        self.vectors = vectors

    async def upsert(self, items: Sequence[Content]) -> int:
        """Insert or replace items (the last of repeated ids wins); returns how many."""
        contents = list({c.content_id: c for c in items}.values())
        written = await self.store.upsert_content(contents)
        await self.models.add_content(contents)
        if not written:  # each one given as it is stored: no list or filter changes
            return len(contents)
        await self.rec_cache.invalidate_catalog()
        if self.vectors is not None:  # the language model's item vectors, off the request
            self.vectors.index_soon([c for c in contents if c.content_id in written])
        return len(contents)

    async def delete(self, content_id: str) -> bool:
        """Remove an item; False when it did not exist. Past interactions with it are kept."""
        if not await self.store.delete_content(content_id):
            return False
        await self.rec_cache.invalidate_catalog()
        return True

    async def similar(
        self, content_id: str, limit: int, filters: Filters = NO_FILTERS
    ) -> list[Similar] | None:
        """Items like this one: by the model's embeddings, else from the same category.

        Only items available now and passing `filters` appear. None when the item does not
        exist.
        """
        content = await self.store.get_content(content_id)
        if content is None:
            return None
        now = utcnow()
        model = self.models.model
        if model is not None and model.has_item(content_id):
            generation = await self.rec_cache.catalog_generation()
            allowed, _ = await self.columns.mask(model, filters, generation, now)
            ranked = model.similar_items(content_id, limit * 2, allowed)
            found = await self.store.get_contents([i for i, _ in ranked])
            by_model = [
                Similar(found[i], s)
                for i, s in ranked
                if i in found and filters.allows(found[i], now)
            ][:limit]
            if by_model:
                return by_model
        same = await self.store.fresh_content(limit * 5 + 1, (content.category,))
        return [
            Similar(c, 0.0) for c in same if c.content_id != content_id and filters.allows(c, now)
        ][:limit]

    async def watch(self, interval_seconds: float = 1.0) -> None:
        """Fold content other processes wrote into this process's model, as it appears.

        A write the shared generation did not announce (its writer shares no cache with this
        process) moves this process's own generation, so its cached lists and filter columns
        follow as they would for its own write.
        """
        seen = await self.rec_cache.catalog_generation()
        since = utcnow() - CLOCK_SLACK
        newest: datetime | None = None
        while True:
            await asyncio.sleep(interval_seconds)
            generation = await self.rec_cache.catalog_generation()
            try:
                written = await self.store.newest_content_write()
                # Without a reachable cache nothing says whether the catalogue moved: look anyway.
                announced = generation is None or generation != seen
                if not announced and written == newest:
                    continue
                if not announced and newest is not None:
                    await self.rec_cache.invalidate_catalog()
                    generation = await self.rec_cache.catalog_generation()
                since = await self.fold_in_since(since)
            except Exception as exc:  # the database is down: try again on the next tick
                log.warning("could not read catalogue changes: %s", exc)
                continue
            seen, newest = generation, written

    async def fold_in_since(self, since: datetime) -> datetime:
        """Add items written from `since` on to the model; returns where to look next time."""
        started = utcnow()
        changed = await self.store.content_updated_since(since)
        added = await self.models.add_content(changed)
        if added:
            log.info("folded %d new items written by other processes into the model", added)
        return started - CLOCK_SLACK
