"""Replicas fold in content another process wrote: announced by the shared catalogue
generation, or seen in the store when the writer shares no cache (an import beside a server
on `memory://`)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
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
    await store.upsert_content([as_content(3)])
    assert [c.content_id for c in await store.content_updated_since(later)] == ["item-3"]
    assert await store.content_updated_since(utcnow() + timedelta(seconds=5)) == []
