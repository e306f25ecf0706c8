"""A retraining round on stored data: sized up front, measured, and harmless when it fails."""

import gc
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contextiq import heap
from contextiq.domain import Content, Interaction, InteractionType
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.ml.base import WeightedInteraction
from contextiq.ml.footprint import TrainingTooLarge
from contextiq.recommend.models import ModelHolder
from contextiq.store.experiments import ExperimentStore
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from contextiq.worker.processor import Retrainer
from contextiq.worker.training import (
    last_round_at,
    load_training_data,
    served_families,
    train_and_register,
    training_round,
)
from tests.conftest import stored_events
from tests.ml import synthetic

START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    store = Store(url)
    await store.upsert_content(
        [
            Content(i.item_id, i.title, i.category, tags=i.tags, created_at=START)
            for i in synthetic.catalogue()
        ]
    )
    events = synthetic.interactions()
    # Stored newest first, so the loader has to put them back in time order.
    await store.record_interactions(
        [
            Interaction(
                f"e{n}",
                e.user_id,
                e.item_id,
                InteractionType.LIKE if e.weight > 1 else InteractionType.VIEW,
                e.weight,
                START + timedelta(minutes=e.timestamp or 0.0),
            )
            for n, e in reversed(list(enumerate(events)))
        ]
    )
    try:
        yield store
    finally:
        await store.close()


async def test_training_data_streams_back_oldest_first_with_one_copy_of_each_id(
    store: Store,
) -> None:
    loaded = await load_training_data(store)
    events = synthetic.interactions()
    assert [(e.user_id, e.item_id, e.weight) for e in loaded] == [
        (e.user_id, e.item_id, e.weight) for e in events
    ]
    stamps = [e.timestamp or 0.0 for e in loaded]
    assert stamps == sorted(stamps)
    same_user = [e.user_id for e in loaded if e.user_id == "user-0"]
    assert all(u is same_user[0] for u in same_user)


async def test_a_round_records_time_and_peak_memory_with_its_metrics(
    store: Store, tmp_path: Path
) -> None:
    holder = ModelHolder(tmp_path / "models", store)
    info = await train_and_register(store, holder, model="ease")
    assert info is not None and info.status == "active"
    assert info.metrics["train_seconds"] >= 0  # rounded to 0.1 s: a tiny fit may read 0.0
    assert 10 < info.metrics["peak_rss_mb"] < 100_000
    assert holder.version == info.version


async def test_a_round_learns_from_its_window_alone(store: Store, tmp_path: Path) -> None:
    """The stored events are a minute apart, 1 to 420 minutes after START: a window of
    209.5 minutes up to the newest holds the 210 from minute 211."""
    holder = ModelHolder(tmp_path / "models", store)
    (info,) = await training_round(store, holder, "ease", window_days=209.5 / (24 * 60))
    assert info.n_interactions == 210
    (everything,) = await training_round(store, holder, "ease")
    assert everything.n_interactions == 420


async def test_a_training_too_large_is_refused_at_once_with_its_sizes(
    store: Store, tmp_path: Path
) -> None:
    holder = ModelHolder(tmp_path / "models", store)
    with pytest.raises(TrainingTooLarge) as refused:
        await train_and_register(store, holder, memory_limit_mb=1)
    message = str(refused.value)
    assert "48 items, 60 users, 420 interactions" in message
    assert "CONTEXTIQ_TRAIN_MEMORY_LIMIT_MB" in message
    assert "CONTEXTIQ_TRAINING_WINDOW_DAYS" in message  # the other way to make it fit
    assert holder.registry.versions() == []


async def test_an_unknown_model_family_names_the_known_ones(store: Store, tmp_path: Path) -> None:
    known = "known: blend, blend-sequence, blend-next, ease, embedding, sequence"
    with pytest.raises(ValueError, match=known):
        await train_and_register(store, ModelHolder(tmp_path / "models", store), model="mystery")


async def test_a_failed_round_leaves_the_worker_and_the_serving_model_as_they_were(
    store: Store, tmp_path: Path
) -> None:
    holder = ModelHolder(tmp_path / "models", store)
    assert await last_round_at(store) is None
    first = await train_and_register(store, holder, model="ease")
    assert first is not None
    assert await last_round_at(store) == first.created_at.timestamp()
    serving = holder.model
    limit = {"mb": 1}
    retrainer = Retrainer(
        lambda: train_and_register(store, holder, "ease", limit["mb"]), store, 0, 0
    )
    await store.apply_events(await stored_events(store, 5, first=1_000))
    assert retrainer.request()
    await retrainer._task  # type: ignore[misc]
    assert not retrainer.training
    assert (await store.training_count()).events == 5  # nothing was learnt from them yet
    assert holder.model is serving and holder.version == first.version
    assert len(holder.registry.versions()) == 1
    limit["mb"] = 0
    assert retrainer.request()  # the next round runs, and this one succeeds
    await retrainer._task  # type: ignore[misc]
    assert (await store.training_count()).events == 0
    assert len(holder.registry.versions()) == 2


def _experiment(name: str, family: str | None, starts_at: datetime) -> Experiment:
    return Experiment(
        name=name,
        arms=(
            Arm("control", 1.0, ArmConfig()),
            Arm("treatment", 1.0, ArmConfig(model_family=family)),
        ),
        interleaving=False,
        starts_at=starts_at,
        ends_at=None,
        created_at=starts_at,
    )


async def test_a_round_trains_the_serving_family_then_each_one_an_experiment_names(
    store: Store, tmp_path: Path
) -> None:
    experiments = ExperimentStore(store)
    assert await served_families(experiments, "ease") == ["ease"]
    # CONTEXTIQ_MODEL_FAMILIES: requests may name those, so they are trained too, once each.
    requested = ["sequence", "ease", "sequence"]
    assert await served_families(experiments, "ease", requested) == ["ease", "sequence"]
    now = datetime.now(UTC)
    await experiments.create(_experiment("next", "embedding", now))
    assert await served_families(experiments, "ease") == ["ease", "embedding"]

    holder = ModelHolder(tmp_path / "models", store)
    reads: list[int] = []

    async def counted(read_from: Store, since: datetime | None) -> list[WeightedInteraction]:
        reads.append(1)
        return await load_training_data(read_from, since)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("contextiq.worker.training.load_training_data", counted)
        serving, other = await training_round(store, holder, "ease")
    assert len(reads) == 1  # one read of the stored data for both families
    registry = holder.registry
    assert serving.status == "active" and holder.version == serving.version
    assert registry.family_version("ease") == serving.version
    # The experiment's family is accepted for its arm only: the default keeps serving.
    assert other.status == "candidate"
    assert registry.family_version("embedding") == other.version
    assert registry.active_version() == serving.version
    assert registry.info(other.version).family == "embedding"

    # A promoted family is trained first, and its versions serve the default from then on.
    await experiments.stop(
        "next", now, "treatment", "treatment wins", {"model_family": "embedding"}
    )
    assert await served_families(experiments, "ease") == ["embedding"]
    (again,) = await training_round(store, holder, "ease")
    assert again.status == "active" and holder.version == again.version
    assert registry.info(again.version).family == "embedding"


async def test_a_finished_experiment_names_no_family_to_train(store: Store) -> None:
    experiments = ExperimentStore(store)
    past = datetime.now(UTC) - timedelta(days=2)
    await experiments.create(replace(_experiment("old", "embedding", past), ends_at=past))
    assert await served_families(experiments, "ease") == ["ease"]


async def test_a_round_holds_full_collections_and_freezes_what_it_leaves(
    store: Store, tmp_path: Path
) -> None:
    collecting: list[bool] = []

    async def read(read_from: Store, since: datetime | None) -> list[WeightedInteraction]:
        collecting.append(gc.get_threshold()[2] != heap.NO_FULL_COLLECTION)
        return await load_training_data(read_from, since)

    frozen = gc.get_freeze_count()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("contextiq.worker.training.load_training_data", read)
            await training_round(store, ModelHolder(tmp_path / "models", store), "ease")
        # Millions of objects at scale: no full collection walks them while they are built...
        assert collecting == [False]
        # ...nor afterwards, what the round leaves behind.
        assert gc.get_threshold()[2] != heap.NO_FULL_COLLECTION
        assert gc.isenabled() and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
