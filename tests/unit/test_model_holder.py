"""The serving model holder: loads what the registry promotes and picks exact or ANN retrieval."""

from pathlib import Path

import pytest

from contextiq.ml.embedding import EmbeddingRecommender
from contextiq.ml.registry import ModelRegistry
from contextiq.recommend.models import ModelHolder
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.ml import synthetic
from tests.ml.test_families import small_embedding
from tests.ml.test_registry import report


@pytest.mark.parametrize(("min_items", "expected"), [(0, False), (1_000, False), (10, True)])
async def test_ann_retrieval_follows_the_catalogue_size(
    tmp_path: Path, min_items: int, expected: bool
) -> None:
    model = EmbeddingRecommender(small_embedding(0)).fit(
        synthetic.interactions(), synthetic.catalogue()
    )
    ModelRegistry(tmp_path / "models").register(report(model, 0.3, promote=True))
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    store = Store(url)
    try:
        holder = ModelHolder(tmp_path / "models", store, ann_min_items=min_items)
        assert await holder.refresh()
        assert isinstance(holder.model, EmbeddingRecommender)
        assert holder.model.uses_ann is expected
        assert holder.files == holder.registry.files(str(holder.version))  # for the page cache
    finally:
        await store.close()
