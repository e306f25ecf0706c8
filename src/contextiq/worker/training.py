"""Retraining: fit a candidate on everything stored, promote it only if it is no worse.

A round first sizes the training from the database's counts and refuses at once, with
those sizes, when it would not fit in memory. It then streams the interactions in chunks
of columns, orders them by time, and trains in a thread; the time it took and its peak
memory are recorded with the model's metrics. A round that fails leaves the serving model
as it was (the `Retrainer` logs the error and keeps going).
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

import numpy as np

from contextiq.ml import make_model, train_candidate
from contextiq.ml.base import WeightedInteraction
from contextiq.ml.footprint import PeakMemory, check_fits, estimate
from contextiq.recommend.models import ModelHolder, item_features
from contextiq.store.records import ModelVersion
from contextiq.store.store import Store

log = logging.getLogger(__name__)


async def load_training_data(store: Store) -> list[WeightedInteraction]:
    """Every stored interaction, oldest first (ties in the order they were stored).

    Each distinct user and item id is kept once, however many events name it.
    """
    users: list[str] = []
    items: list[str] = []
    weights: list[float] = []
    times: list[float] = []
    async for chunk in store.iter_interaction_columns():
        users.extend(chunk.user_ids)
        items.extend(chunk.content_ids)
        weights.extend(chunk.weights)
        times.extend(chunk.timestamps)
    ids: dict[str, str] = {}
    order = np.argsort(np.asarray(times, np.float64), kind="stable")
    return [
        WeightedInteraction(
            ids.setdefault(users[j], users[j]),
            ids.setdefault(items[j], items[j]),
            weights[j],
            times[j],
        )
        for j in order.tolist()
    ]


async def train_and_register(
    store: Store, holder: ModelHolder, model: str = "blend", memory_limit_mb: int = 0
) -> ModelVersion | None:
    """One training round; returns the recorded version, or None with nothing to learn from."""
    make_model(model)  # an unknown family name stops here, before any work
    n_users, n_items, n_interactions = await store.interaction_counts()
    if not n_interactions:
        return None
    n_items = max(n_items, await store.content_count())
    needed = estimate(n_users, n_items, n_interactions)
    check_fits(needed, memory_limit_mb * 2**20)
    log.info("training a %s model on %s", model, needed.describe())
    start = time.perf_counter()
    with PeakMemory() as peak:
        interactions = await load_training_data(store)
        items = [item_features(c) for c in await store.all_content()]
        log.info("read %d interactions in %.0fs", len(interactions), time.perf_counter() - start)
        current, serving = holder.model, holder.version  # one pair, even if a swap comes
        meta = await asyncio.to_thread(holder.registry.info, serving) if serving else None
        until = meta.trained_until if meta else None
        report = await asyncio.to_thread(
            train_candidate, interactions, items, current, 0, model, until
        )
        del interactions
    version = await asyncio.to_thread(holder.registry.save, report.model, report)
    status = "active" if report.promote else "rejected"
    info = ModelVersion(
        version=version,
        created_at=datetime.now(UTC),
        status=status,
        metrics={
            **report.metrics,
            "train_seconds": round(peak.seconds, 1),
            "peak_rss_mb": round(peak.bytes / 2**20, 1),
        },
        n_users=report.n_users,
        n_items=report.n_items,
        n_interactions=report.n_interactions,
        train_seconds=peak.seconds,
    )
    if report.promote:
        await asyncio.to_thread(holder.registry.promote, version)
        await holder.refresh()
    await store.save_model_version(info)
    log.info("model %s trained in %.1fs: %s (%s)", version, peak.seconds, info.metrics, status)
    return info
