"""Upserts and deletes of content, done the same way by the API, imports and tests.

A catalogue write touches three things that must move together: the stored rows, the live
model (new items become scorable through their features) and the shared catalogue generation
(every replica drops its cached lists and in-process metadata on its next request). With
`local://`, the items' text vectors are then computed in the background and stored, so
requests score them without running the model. Routes call
this service; none of them does the steps itself.
"""

from collections.abc import Sequence

from contextiq.domain import Content
from contextiq.llm.item_vectors import ItemVectors
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.store import Store


class CatalogService:
    def __init__(
        self,
        store: Store,
        models: ModelHolder,
        rec_cache: RecommendationCache,
        vectors: ItemVectors | None = None,
    ) -> None:
        self.store = store
        self.models = models
        self.rec_cache = rec_cache
        self.vectors = vectors

    async def upsert(self, items: Sequence[Content]) -> int:
        """Insert or replace items (the last of repeated ids wins); returns how many."""
        contents = list({c.content_id: c for c in items}.values())
        count = await self.store.upsert_content(contents)
        await self.models.add_content(contents)
        await self.rec_cache.invalidate_catalog()
        if self.vectors is not None:  # the language model's item vectors, off the request
            self.vectors.index_soon(contents)
        return count

    async def delete(self, content_id: str) -> bool:
        """Remove an item; False when it did not exist. Past interactions with it are kept."""
        if not await self.store.delete_content(content_id):
            return False
        await self.rec_cache.invalidate_catalog()
        return True
