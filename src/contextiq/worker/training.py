"""Retraining: fit a candidate on everything stored, promote it only if it is no worse."""

import asyncio
import logging
from datetime import UTC, datetime

from contextiq.ml import train_candidate
from contextiq.ml.base import WeightedInteraction
from contextiq.recommend.models import ModelHolder, item_features
from contextiq.store.records import ModelVersion
from contextiq.store.store import Store

log = logging.getLogger(__name__)


async def load_training_data(store: Store) -> list[WeightedInteraction]:
    interactions: list[WeightedInteraction] = []
    async for batch in store.iter_interactions():
        interactions.extend(
            WeightedInteraction(user, item, weight, at.timestamp())
            for user, item, weight, at in batch
        )
    return interactions


async def train_and_register(store: Store, holder: ModelHolder) -> ModelVersion | None:
    """One training round; returns the recorded version, or None with nothing to learn from."""
    interactions = await load_training_data(store)
    if not interactions:
        return None
    items = [item_features(c) for c in await store.all_content()]
    report = await asyncio.to_thread(train_candidate, interactions, items, holder.model)
    version = await asyncio.to_thread(holder.registry.save, report.model, report)
    status = "active" if report.promote else "rejected"
    info = ModelVersion(
        version=version,
        created_at=datetime.now(UTC),
        status=status,
        metrics=dict(report.metrics),
        n_users=report.n_users,
        n_items=report.n_items,
        n_interactions=report.n_interactions,
        train_seconds=report.train_seconds,
    )
    if report.promote:
        await asyncio.to_thread(holder.registry.promote, version)
        await holder.refresh()
    await store.save_model_version(info)
    log.info(
        "model %s trained in %.1fs: %s (%s)", version, report.train_seconds, report.metrics, status
    )
    return info
