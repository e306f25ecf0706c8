"""Replicas fold in content another process wrote: announced by the shared catalogue
generation, or seen in the store when the writer shares no cache (an import beside a server
on `memory://`)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from contextiq.cache import MemoryCache
from contextiq.catalog import CatalogService
from contextiq.domain import Content
from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.ml.registry import ModelRegistry
from contextiq.recommend.filters import FilterColumns
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store, utcnow
from tests.ml import synthetic
from tests.ml.test_families import small_embedding
from tests.ml.test_registry import report


def as_content(n: int) -> Content:
    item = synthetic.catalogue()[n]
    return Content(item.item_id, item.title, item.category, tags=item.tags)


async def replica(url: str, models: Path, cache: MemoryCache) -> CatalogService:
    """One process's view: its own store connection and model, the shared cache."""
    holder = ModelHolder(models, Store(url))
    assert await holder.refresh()
    cache_ = RecommendationCache(cache, 60)
    return CatalogService(holder.store, holder, cache_, FilterColumns(holder.store))


@pytest.fixture(params=["shared cache", "a cache each"])
async def replicas(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[CatalogService, CatalogService]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    store = Store(url)
    await store.upsert_content([as_content(n) for n in range(len(synthetic.catalogue()))])
    await store.close()
    model = EmbeddingRecommender(small_embedding(0)).fit(
        synthetic.interactions(), synthetic.catalogue()
    )
    ModelRegistry(tmp_path / "models").register(report(model, 0.3, promote=True))
    shared = MemoryCache()
    pair = (
        await replica(url, tmp_path / "models", shared),
        await replica(
            url, tmp_path / "models", shared if request.param == "shared cache" else MemoryCache()
        ),
    )
    yield pair
    for service in pair:
        await service.store.close()


async def test_content_written_by_one_replica_becomes_scorable_on_the_other(
    replicas: tuple[CatalogService, CatalogService],
) -> None:
    writer, watcher = replicas
    watching = asyncio.create_task(watcher.watch(interval_seconds=0.01))
    new = synthetic.new_item(1)
    try:
        await asyncio.sleep(0.05)
        generation = await watcher.rec_cache.catalog_generation()
        await writer.upsert([Content(new.item_id, new.title, new.category, tags=new.tags)])
        assert writer.models.model is not None and writer.models.model.has_item("new-1")
        for _ in range(3000):  # up to 30 s on a loaded host; done as soon as it is there
            if watcher.models.model is not None and watcher.models.model.has_item("new-1"):
                break
            await asyncio.sleep(0.01)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    # Its cached lists and filter columns follow: its generation moved, announced or not.
    assert await watcher.rec_cache.catalog_generation() != generation
    assert watcher.models.model is not None
    history = {f"item-{12 + j}": 1.0 for j in range(6)}
    ranked = [i for i, _ in watcher.models.model.recommend(history, 12, exclude=history)]
    assert "new-1" in ranked  # among its own category's items


async def test_folding_in_again_adds_nothing(
    replicas: tuple[CatalogService, CatalogService],
) -> None:
    writer, watcher = replicas
    new = synthetic.new_item(2)
    before = utcnow() - timedelta(seconds=1)
    await writer.upsert([Content(new.item_id, new.title, new.category, tags=new.tags)])
    assert watcher.models.model is not None
    size = len(watcher.models.model.item_ids)
    await watcher.fold_in_since(before)
    assert len(watcher.models.model.item_ids) == size + 1
    await watcher.fold_in_since(before)
    assert len(watcher.models.model.item_ids) == size + 1


async def test_content_updated_since_reads_only_later_writes(
    replicas: tuple[CatalogService, CatalogService],
) -> None:
    store = replicas[0].store
    later = utcnow()
    await store.upsert_content([replace(as_content(3), title="Retitled")])
    assert [c.content_id for c in await store.content_updated_since(later)] == ["item-3"]
    assert await store.content_updated_since(utcnow() + timedelta(seconds=5)) == []


async def test_deleted_items_leave_the_model_candidates_before_retraining(
    replicas: tuple[CatalogService, CatalogService],
) -> None:
    """The model keeps a deleted item until it is retrained, and the filter columns kept it
    available: it took a candidate's place and was dropped only once read, so an item whose
    nearest neighbours were deleted got 2 similar items of the 5 asked for."""
    writer, _ = replicas
    assert writer.models.model is not None
    nearest = [i for i, _ in writer.models.model.similar_items("item-0", 10)]
    assert await writer.similar("item-0", 5)  # the filter columns, built before the deletes
    for item in nearest[:8]:
        assert await writer.delete(item)
    similar = await writer.similar("item-0", 5)
    assert similar is not None
    assert len(similar) == 5
    assert not {s.content.content_id for s in similar} & set(nearest[:8])
    await writer.upsert([as_content(int(nearest[0].removeprefix("item-")))])
    again = await writer.similar("item-0", 5)
    assert again is not None and again[0].content.content_id == nearest[0]
