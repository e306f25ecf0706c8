"""Retraining: fit a candidate on what is stored (every event, or those of the training
window), promote it only if it is no worse.

A round trains the serving family, and then each other family that requests or a live
experiment's arm may name, so their models are as fresh as the default's
(`training_round`). Each training first sizes itself from the database's counts and
refuses at once, with those sizes, when it would not fit in memory (and, with the
registry's error, when the model directory is read-only). It then streams the
interactions in chunks of columns, orders them by time, and trains in a thread; the time
it took and its peak memory are recorded with the model's metrics. A round that fails
leaves the serving models as they were (the `Retrainer` logs the error and keeps going,
trying again once as many events more came, or once the time trigger's interval passed
again since the failure).
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import numpy as np

from contextiq import heap
from contextiq.events.types import RetrainRequested
from contextiq.experiments.definitions import ArmConfig
from contextiq.ml.base import ItemFeatures, Recommender, WeightedInteraction
from contextiq.ml.footprint import PeakMemory, check_fits, estimate
from contextiq.recommend.models import ModelHolder, item_features
from contextiq.store.exclusive import exclusively, is_held
from contextiq.store.experiments import ExperimentStore
from contextiq.store.records import ModelVersion
from contextiq.store.store import Store, utcnow

log = logging.getLogger(__name__)

#: The lock a training holds (`store/exclusive.py`): serve, worker and `contextiq train` alike.
TRAINING_LOCK = "contextiq-training"


class TrainingBusy(Exception):
    """Another process is training: a second training would double the memory and race on
    the model registry."""


def training_turn(
    store: Store, wait: float = 0.0, waiting: Callable[[], object] | None = None
) -> AbstractAsyncContextManager[bool]:
    """True for the block if this process may train now (see `exclusively`)."""
    return exclusively(store.engine, TRAINING_LOCK, wait, waiting)


async def training_now(store: Store, own: bool) -> bool:
    """Whether a training runs anywhere: `own` (this process's round, from its request on)
    or whoever holds the lock (a worker's round, `contextiq train`, `serve --bootstrap`):
    on PostgreSQL any process, on SQLite any on this host where Linux lists its locks."""
    return own or bool(await is_held(store.engine, TRAINING_LOCK))


async def request_round(store: Store, own: bool) -> bool:
    """Queue a round for a consuming worker (`RetrainRequested`); False, queuing nothing, when
    one runs already."""
    if await training_now(store, own):
        return False
    await store.append_outbox([RetrainRequested(uuid.uuid4().hex, utcnow())])
    return True


async def last_round_at(store: Store) -> float | None:
    """When any process last recorded a trained model (promoted or not), in epoch seconds."""
    newest = await store.model_versions(1)
    return newest[0].created_at.timestamp() if newest else None


async def load_training_data(
    store: Store, since: datetime | None = None
) -> list[WeightedInteraction]:
    """Every stored interaction (from `since`, when set), oldest first (ties in the order
    they were stored).

    Each distinct user and item id is kept once, however many events name it.
    """
    users: list[str] = []
    items: list[str] = []
    weights: list[float] = []
    times: list[float] = []
    async for chunk in store.iter_interaction_columns(since):
        users.extend(chunk.user_ids)
        items.extend(chunk.content_ids)
        weights.extend(chunk.weights)
        times.extend(chunk.timestamps)
    # Seconds of CPU at millions of events: in a thread, so the event loop gets its turns.
    return await asyncio.to_thread(_in_time_order, users, items, weights, times)


def _in_time_order(
    users: list[str], items: list[str], weights: list[float], times: list[float]
) -> list[WeightedInteraction]:
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


class StoredData:
    """Every stored interaction in the training window (`since`, None: all) and every item,
    read on first use: once however many families a round trains (45 s at 5,000,000 events)."""

    def __init__(self, store: Store, since: datetime | None = None) -> None:
        self.store = store
        self.since = since
        self._read: tuple[list[WeightedInteraction], list[ItemFeatures]] | None = None

    @classmethod
    async def window(cls, store: Store, window_days: float) -> "StoredData":
        """The events of the last `window_days` up to the newest (0: every event)."""
        return cls(store, await store.training_since(window_days))

    async def read(self) -> tuple[list[WeightedInteraction], list[ItemFeatures]]:
        if self._read is None:
            start = time.perf_counter()
            interactions = await load_training_data(self.store, self.since)
            items = [item_features(c) for c in await self.store.all_content()]
            took = time.perf_counter() - start
            log.info("read %d interactions in %.0fs", len(interactions), took)
            self._read = (interactions, items)
        return self._read


async def served_families(
    experiments: ExperimentStore, configured: str, requested: Sequence[str] = ()
) -> list[str]:
    """The families to retrain, the serving one first.

    That is the family of the config an experiment promoted last, else `configured`
    (`CONTEXTIQ_MODEL`); then the `requested` ones (`CONTEXTIQ_MODEL_FAMILIES`, which
    requests may name) and those named by the arms of experiments still to run or running.
    """
    serving = ArmConfig.from_dict(await experiments.promoted()).model_family or configured
    now = datetime.now(UTC)
    named = {
        arm.config.model_family
        for e in await experiments.live()
        if e.status(now) != "finished"
        for arm in e.arms
    }
    named.update(requested)
    return [serving, *sorted(f for f in named if f is not None and f != serving)]


async def training_round(
    store: Store,
    holder: ModelHolder,
    configured: str,
    memory_limit_mb: int = 0,
    requested: Sequence[str] = (),
    window_days: float = 0.0,
) -> list[ModelVersion]:
    """Train every served family in turn (`served_families`) on the events of the last
    `window_days` (0: every event); what each recorded.

    Full collections wait for the round (`heap.building`), whose stored data is let go first.
    """
    with heap.building():
        return await _train_families(
            store, holder, configured, memory_limit_mb, requested, window_days
        )


async def _train_families(
    store: Store,
    holder: ModelHolder,
    configured: str,
    memory_limit_mb: int,
    requested: Sequence[str],
    window_days: float,
) -> list[ModelVersion]:
    serving, *others = await served_families(ExperimentStore(store), configured, requested)
    data = await StoredData.window(store, window_days)
    done = [await train_and_register(store, holder, serving, memory_limit_mb, data=data)]
    for family in others:
        done.append(await train_and_register(store, holder, family, memory_limit_mb, False, data))
    return [info for info in done if info is not None]


async def train_and_register(
    store: Store,
    holder: ModelHolder,
    model: str = "blend",
    memory_limit_mb: int = 0,
    serve: bool = True,
    data: StoredData | None = None,
) -> ModelVersion | None:
    """Train the family `model`; returns the recorded version, or None with nothing to learn from.

    With `serve` the candidate is compared with the version serving now (whatever its family)
    and, if no worse, becomes the active version; without it, it is compared with its
    family's newest accepted version and, if no worse, served only to the requests and
    experiment arms that name the family. Either way an accepted candidate becomes its
    family's newest. `data` shares the stored data a round has read already (and says its
    training window; without it, every stored event is read). The caller
    holds the training lock (`training_turn`): so the staging folders of saves a killed
    process left are removed here, with no live save among them.
    """
    # Here, not above: the model code brings PyTorch, which the commands that never train
    # (an import, `migrate`) need not load (docs/benchmarks.md, "The page cache while folding").
    from contextiq.ml.families import known_family
    from contextiq.ml.train import train_candidate

    known_family(model)  # an unknown family name stops here, before any work
    data = data or StoredData(store)
    n_users, n_items, n_interactions = await store.interaction_counts(data.since)
    if not n_interactions:
        return None
    n_items = max(n_items, await store.content_count())
    needed = estimate(n_users, n_items, n_interactions)
    check_fits(needed, memory_limit_mb * 2**20)
    # Before the check: on a volume they filled, the check would refuse for want of their space.
    if swept := await asyncio.to_thread(holder.registry.sweep_unfinished):
        log.warning("removed %d unfinished saves of a killed training: %s", len(swept), swept)
    await asyncio.to_thread(holder.registry.check_writable)
    log.info("training a %s model on %s", model, needed.describe())
    with PeakMemory() as peak:
        interactions, items = await data.read()
        current, until = await _compared_with(holder, model, serve)
        report = await asyncio.to_thread(
            train_candidate, interactions, items, current, 0, model, until
        )
        del interactions
    registry = holder.registry
    log.info("saving the %s model to the registry", model)  # large arrays: it takes a while
    version = await asyncio.to_thread(registry.save, report.model, report)
    status = "rejected" if not report.promote else "active" if serve else "candidate"
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
        await asyncio.to_thread(registry.accept, version)
    if report.promote and serve:
        await asyncio.to_thread(registry.promote, version)
        await holder.refresh()
    await store.save_model_version(info)
    log.info("model %s trained in %.1fs: %s (%s)", version, peak.seconds, info.metrics, status)
    return info


async def _compared_with(
    holder: ModelHolder, family: str, serve: bool
) -> tuple[Recommender | None, float | None]:
    """The model a candidate must be no worse than, and its training cutoff."""
    registry = holder.registry
    if serve:
        current, version = holder.model, holder.version  # one pair, even if a swap comes
    else:
        version = await asyncio.to_thread(registry.family_version, family)
        current = await asyncio.to_thread(registry.load, version) if version else None
    meta = await asyncio.to_thread(registry.info, version) if version else None
    return current, meta.trained_until if meta else None
