"""A filter few items pass, at 100,000 items: how long a list takes and how long it is.

The catalogue is the demo generator's (`contextiq.data.demo.demo_data`, seed 42, events as
generated), written to a fresh SQLite file; the 5,000 oldest items nobody interacted with are
marked `metadata.archive` (`filter=metadata.archive == true`): an archive, whose items the
popular and fresh listings reach last or never. A visitor (no history) and users with one like each
ask for 10 items through the package's own `RecommendationService` in process, with an
embedding model over every item (category centres plus noise, as `bench/filters.py`).
Run it with another checkout's `src` on `PYTHONPATH` to compare:

    git archive main src | tar -x -C /tmp/oldsrc
    for src in /tmp/oldsrc/src src; do PYTHONPATH=$src .venv/bin/python bench/short_lists.py; done
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from contextiq.config import Settings
from contextiq.data.demo import demo_data
from contextiq.domain import Interaction, InteractionType
from contextiq.ml.base import ItemFeatures
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.rows import GrowingRows
from contextiq.recommend.filters import Filters
from contextiq.recommend.request import ListRequest
from contextiq.services import build_services
from contextiq.store.bulk import interaction_rows
from contextiq.store.migrate import upgrade_async

DIM = 64
FILTER = "metadata.archive == true"


def model(ids: list[str], categories: list[str]) -> EmbeddingRecommender:
    rng = np.random.default_rng(0)
    recommender = EmbeddingRecommender(EmbeddingConfig(dim=DIM))
    recommender.add_items(
        [ItemFeatures(i, category=c) for i, c in zip(ids, categories, strict=True)]
    )
    names = sorted(set(categories))
    codes = np.array([names.index(c) for c in categories])
    centres = rng.normal(size=(len(names), DIM))

    def table() -> GrowingRows:
        noisy = centres[codes] + 0.7 * rng.normal(size=(len(ids), DIM))
        return GrowingRows((noisy / np.sqrt(DIM)).astype(np.float32))

    recommender._item_in, recommender._item_out = table(), table()
    recommender._bias = GrowingRows(np.zeros(len(ids), np.float32))
    return recommender


async def run(args: argparse.Namespace, root: Path) -> None:
    url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
    await upgrade_async(url)
    settings = Settings(
        _env_file=None,
        database_url=url,
        model_dir=root / "models",
        llm_url="none://",
        cache_url="memory://",
        retrain_every_events=0,
        retrain_every_seconds=0,
        record_impressions=False,
    )
    services = build_services(settings)
    data = demo_data(42, args.items, args.users)
    contents = data.contents()
    unread = np.bincount(data.event_item, minlength=args.items) == 0
    by_age = np.argsort(-data.item_age_s, kind="stable")
    archive = by_age[unread[by_age]][: args.archive]
    for n in archive.tolist():
        contents[n] = replace(contents[n], metadata={**contents[n].metadata, "archive": True})
    started = time.perf_counter()
    await services.store.upsert_content(contents)
    async with services.store.bulk_loader() as loader:
        for start in range(0, data.n_events, 100_000):
            batch = data.interactions(settings, start, start + 100_000)
            await loader.add(interaction_rows(batch, loader.time_form))
            await loader.commit()
    loaded = time.perf_counter() - started
    print(f"{args.items:,} items, {data.n_events:,} events loaded in {loaded:.0f}s")
    print(f"{FILTER!r} passes {len(archive):,} items, none with an interaction")
    services.models.model = model([c.content_id for c in contents], [c.category for c in contents])
    services.models.version = "bench"
    service = services.recommendations
    request = ListRequest(10, Filters(expression=FILTER))
    readers = [f"reader{n}" for n in range(args.repeat)]
    now = data.anchor
    likes = [
        Interaction(f"bench-{u}", u, contents[n].content_id, InteractionType.LIKE, 1.0, now)
        for u, n in zip(readers, range(0, args.items, 997), strict=False)
    ]
    await services.store.record_interactions(likes)
    await service.recommend("warm-up", ListRequest(10), None)
    for who, users in (
        ("visitor (no history)", [f"visitor{n}" for n in range(args.repeat)]),
        ("user with one like", readers),
    ):
        times, lengths = [], []
        for user in users:
            started = time.perf_counter()
            result = await service.recommend(user, request, None)
            times.append(1000 * (time.perf_counter() - started))
            lengths.append(len(result.items))
        print(
            f"{who:<22} filter={FILTER!r}: median {statistics.median(times):8.1f} ms, "
            f"first {times[0]:8.1f} ms, items {min(lengths)}-{max(lengths)} of 10"
        )
    await services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--archive", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(run(args, Path(root)))


if __name__ == "__main__":
    main()
