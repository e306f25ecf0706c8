"""The model currently serving, swapped in place when the registry promotes a new one."""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from contextiq.domain import Content
from contextiq.ml.base import ItemFeatures, Recommender
from contextiq.ml.registry import ModelRegistry
from contextiq.ml.scoring import ScoringRecommender
from contextiq.store.store import Store

log = logging.getLogger(__name__)


def item_features(content: Content) -> ItemFeatures:
    return ItemFeatures(
        item_id=content.content_id,
        title=content.title,
        category=content.category,
        tags=content.tags,
        text=content.description,
    )


async def _fold_in(model: Recommender, items: Sequence[Content]) -> int:
    """Add the items `model` does not know (scored by their features); returns how many."""
    fresh = [item_features(c) for c in items if not model.has_item(c.content_id)]
    if fresh:
        await asyncio.to_thread(model.add_items, fresh)
    return len(fresh)


class ModelHolder:
    """Holds the active model; every replica polls the shared registry and hot-swaps."""

    def __init__(self, model_dir: Path, store: Store, ann_min_items: int = 0) -> None:
        self.registry = ModelRegistry(model_dir)
        self.store = store
        self.ann_min_items = ann_min_items
        self.model: Recommender | None = None
        self.version: str | None = None
        self.load_error: str | None = None
        #: The loaded version's files (its arrays are memory-mapped), for the page cache.
        self.files: list[Path] = []
        #: Other versions serving requests (experiment arms, model families, `load`): new
        #: content is folded into them too. Weak: a version no arm serves any more goes.
        self._others: weakref.WeakSet[Recommender] = weakref.WeakSet()
        self._lock = asyncio.Lock()

    async def refresh(self) -> bool:
        """Load the registry's active version if it changed; keep the old one on failure."""
        async with self._lock:
            try:
                version = await asyncio.to_thread(self.registry.active_version)
                if version is None or version == self.version:
                    return False
                model = await self._readied(version)
                files = await asyncio.to_thread(self.registry.files, version)
            except Exception as exc:  # unreadable store: the last good model stays loaded
                self.load_error = str(exc)
                log.warning("could not load the active model, keeping %s: %s", self.version, exc)
                return False
            self.model, self.version, self.load_error = model, version, None
            self.files = files
            log.info("serving model %s", version)
            return True

    async def add_content(self, items: Sequence[Content]) -> int:
        """Make content the serving models do not know scorable through its features.

        Checks each id against each model's id map, never the whole catalogue: this runs for
        every upsert and every change another replica makes. Returns how many were added to
        the active model.
        """
        for other in list(self._others):
            await _fold_in(other, items)
        return 0 if self.model is None else await _fold_in(self.model, items)

    async def load(self, version: str) -> Recommender:
        """Another registered version, readied to serve beside the active one (an experiment
        arm's, a model family's): content written since it was trained, and from now on, is
        folded into it as into the active one. Raises when the version cannot be loaded.
        """
        model = await self._readied(version)
        self._others.add(model)
        return model

    async def _readied(self, version: str) -> Recommender:
        """A version loaded with the content it lacks folded in and ANN retrieval set up."""
        model = await asyncio.to_thread(self.registry.load, version)
        await self._add_unknown_content(model)
        if isinstance(model, ScoringRecommender):
            await asyncio.to_thread(model.enable_ann, self.ann_min_items)
        return model

    async def _add_unknown_content(self, model: Recommender) -> None:
        """Content written after the model was trained (once per load, not per request)."""
        unknown = [i for i in await self.store.content_ids() if not model.has_item(i)]
        found = await self.store.get_contents(unknown)
        await _fold_in(model, [found[i] for i in unknown if i in found])

    async def watch(
        self,
        interval_seconds: float = 2.0,
        on_swap: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Follow the registry; `on_swap` readies each new model after it is swapped in."""
        while True:
            if await self.refresh() and on_swap is not None:
                await on_swap()
            await asyncio.sleep(interval_seconds)
