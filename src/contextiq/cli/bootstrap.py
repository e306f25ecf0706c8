"""First-run steps shared by `serve --bootstrap` and the CLI: migrate, seed, train."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from contextiq import heap
from contextiq.config import Settings
from contextiq.data.demo import demo_data
from contextiq.data.load import (
    CONTENT_CHUNK,
    INTERACTION_CHUNK,
    LoadCounts,
    catalogue_writer,
    finishing,
    load_interactions,
    load_items,
)
from contextiq.llm.factory import item_vectors
from contextiq.progress import track
from contextiq.recommend.models import ModelHolder
from contextiq.store.experiments import ExperimentStore
from contextiq.store.migrate import upgrade
from contextiq.store.records import ModelVersion
from contextiq.store.store import Store
from contextiq.worker.training import (
    StoredData,
    TrainingBusy,
    served_families,
    train_and_register,
    training_round,
    training_turn,
)

Say = Callable[[str], None]


async def seed_demo(
    settings: Settings,
    say: Say,
    seed: int = 42,
    items: int = 2_000,
    users: int = 500,
    interactions: int | None = None,
    vectors: bool = True,
) -> None:
    started = time.perf_counter()
    data = await asyncio.to_thread(demo_data, seed, items, users, interactions)
    say(
        f"    generated {data.n_items:,} items, {data.n_users:,} users and "
        f"{data.n_events:,} interactions in {time.perf_counter() - started:.1f}s"
    )
    store = Store(settings.database_url)
    counts = LoadCounts()
    try:
        async with catalogue_writer(store, settings) as catalog:
            with track(data.n_items, "items") as bar:
                await load_items(
                    catalog,
                    (
                        data.contents(start, min(start + CONTENT_CHUNK, data.n_items))
                        for start in range(0, data.n_items, CONTENT_CHUNK)
                    ),
                    bar,
                    counts,
                )
            async with store.bulk_loader(finishing=finishing(track)) as loader:
                with track(data.n_events, "interactions") as bar:
                    await load_interactions(
                        loader,
                        (
                            data.interactions(
                                settings, start, min(start + INTERACTION_CHUNK, data.n_events)
                            )
                            for start in range(0, data.n_events, INTERACTION_CHUNK)
                        ),
                        bar,
                        counts,
                        catalog.rec_cache,
                    )
        say(
            f"    {counts.items} items, {counts.imported} new interactions "
            f"({counts.duplicates} already there), in {time.perf_counter() - started:.1f}s"
        )
        if vectors:
            await compute_vectors(store, settings, say)
    finally:
        await store.close()


async def compute_vectors(
    store: Store, settings: Settings, say: Say, seconds: float | None = None
) -> None:
    """Item vectors for `local://`, most popular items first; resumes where it stopped.

    With `seconds`, no new batch starts after that long: the rest is left to the worker,
    which completes it in the background, or to `contextiq vectors`.
    """
    vectors = item_vectors(settings.llm_url, store)
    if vectors is None:
        return
    started = time.perf_counter()
    deadline = None if seconds is None else time.monotonic() + seconds
    total = await store.content_count()
    try:
        with track(total, "item vectors", unit="items") as bar:
            done, left = await vectors.complete(deadline, bar)
    finally:
        await vectors.close()
    elapsed = time.perf_counter() - started
    rate = done / max(elapsed, 1e-9)
    say(f"    {done} item vectors computed in {elapsed:.1f}s ({rate:.1f} items/s)")
    if left:
        say(
            f"    {left} less popular items not reached in {seconds:.0f}s: the worker completes"
            " them in the background, or run `contextiq vectors`"
        )


async def train(
    settings: Settings,
    family: str | None = None,
    wait: float = 0.0,
    waiting: Callable[[], object] | None = None,
) -> ModelVersion | None:
    """A worker's round (`training_round`), or `family` alone; the version recorded for the
    serving family, or for `family`.

    One training at a time (`training_turn`): `TrainingBusy` if another process still trains
    after `wait` seconds (`waiting` is called once when it starts waiting).
    """
    store = Store(settings.database_url)
    try:
        async with training_turn(store, wait, waiting) as mine:
            if not mine:
                raise TrainingBusy("another process is training")
            holder = ModelHolder(settings.model_dir, store)
            # The serving version, so the candidate is promoted only if no worse than it (as
            # the worker's holder, which is loaded when it starts).
            await holder.refresh()
            memory = settings.train_memory_limit_mb
            if family is None:
                done = await training_round(
                    store,
                    holder,
                    settings.model,
                    memory,
                    settings.model_families,
                    settings.training_window_days,
                )
                return done[0] if done else None
            serving = (await served_families(ExperimentStore(store), settings.model))[0]
            with heap.building():  # as a round does (`training_round`)
                data = await StoredData.window(store, settings.training_window_days)
                return await train_and_register(
                    store, holder, family, memory, serve=family == serving, data=data
                )
    finally:
        await store.close()


async def _state(settings: Settings) -> tuple[int, bool]:
    store = Store(settings.database_url)
    try:
        holder = ModelHolder(settings.model_dir, store)
        has_model = await asyncio.to_thread(holder.registry.active_version) is not None
        return await store.content_count(), has_model
    finally:
        await store.close()


def bootstrap(settings: Settings, say: Say, demo_items: int = 2_000, demo_users: int = 500) -> None:
    """Make a fresh install useful: schema, demo data when empty, a first model."""
    started = time.perf_counter()
    say("==> [1/3] migrating the database")
    upgrade(settings.database_url)
    items, has_model = asyncio.run(_state(settings))
    if items == 0:
        say("==> [2/3] database is empty: generating demo data")
        asyncio.run(seed_demo(settings, say, items=demo_items, users=demo_users))
    else:
        say(f"==> [2/3] catalogue has {items} items: keeping it")
    if has_model:
        say("==> [3/3] a trained model is present")
    else:
        say("==> [3/3] training a first model")
        try:
            info = asyncio.run(train(settings))
        except TrainingBusy:
            say("    another process is training it: serving popular and fresh content until then")
        else:
            if info is None:
                say("    no interactions yet: serving popular and fresh content until there are")
            else:
                metrics = ", ".join(f"{k}={v:.3f}" for k, v in sorted(info.metrics.items())[:4])
                say(f"    model {info.version} in {info.train_seconds:.1f}s ({metrics})")
    say(f"==> ready in {time.perf_counter() - started:.0f}s")


def write_demo_files(
    directory: Path,
    say: Say,
    seed: int = 42,
    items: int = 2_000,
    users: int = 500,
    interactions: int | None = None,
) -> None:
    """The demo data as generic import files, for `contextiq import files` and benchmarks."""
    started = time.perf_counter()
    data = demo_data(seed, items, users, interactions)
    say(
        f"    generated {data.n_items:,} items, {data.n_users:,} users and "
        f"{data.n_events:,} interactions in {time.perf_counter() - started:.1f}s"
    )
    with track(data.n_events, "writing interactions.csv") as bar:
        content, events = data.write_files(directory, bar)
    say(f"    wrote {content} and {events} in {time.perf_counter() - started:.1f}s")
