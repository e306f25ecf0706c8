"""Uncached recommendation latency with a selective filter against none, at 100,000 items.

Issue 15's target: a filter that 1 % of the catalogue passes keeps an uncached request within
2x of the unfiltered one. Requests go through the package's own `RecommendationService` (the
user's history from the database, retrieval with the allowed-item mask, the catalogue
cache, reasons), in process so the figure is the read path's and not HTTP's. Filtered and
unfiltered requests alternate user by user, so machine load falls on both alike.

    cp /work/data/big.db /tmp/rules-bench/big.db      # the run writes snapshots into it
    flock /work/coord/bench.lock .venv/bin/python bench/filters.py \\
        --database /tmp/rules-bench/big.db [--models DIR] [--users 300]

`--models` serves that registry's active model; without it, an embedding model of the
default blend's embedding shape (dim 200 over every item; category centres plus noise) is
built in memory. It scores faster than the whole blend, so the ratio it gives is the
stricter one.
"""

import argparse
import asyncio
import sqlite3
import statistics
import time
from pathlib import Path

import numpy as np

from contextiq.config import Settings
from contextiq.ml.base import ItemFeatures, Recommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.rows import GrowingRows
from contextiq.recommend.filters import Filters
from contextiq.recommend.request import ListRequest
from contextiq.rules.expression import parse
from contextiq.services import build_services
from contextiq.store.migrate import upgrade_async

DIM = 200
FILTER = 'metadata.subject == "Sculpture"'


def embedding_model(database: Path, seed: int = 0) -> Recommender:
    """Every item of the catalogue with category-clustered random vectors."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT content_id, category FROM content ORDER BY 1").fetchall()
    rng = np.random.default_rng(seed)
    model = EmbeddingRecommender(EmbeddingConfig(dim=DIM))
    model.add_items([ItemFeatures(i, category=c) for i, c in rows])
    categories = sorted({c for _, c in rows})
    codes = np.array([categories.index(c) for _, c in rows])
    centres = rng.normal(size=(len(categories), DIM))

    def table() -> GrowingRows:
        noisy = centres[codes] + 0.7 * rng.normal(size=(len(rows), DIM))
        return GrowingRows((noisy / np.sqrt(DIM)).astype(np.float32))

    model._item_in, model._item_out = table(), table()
    model._bias = GrowingRows(rng.normal(scale=0.1, size=len(rows)).astype(np.float32))
    return model


def users(database: Path, n: int, seed: int = 1) -> list[str]:
    with sqlite3.connect(database) as db:
        ids = [u for (u,) in db.execute("SELECT user_id FROM users")]
    return [str(u) for u in np.random.default_rng(seed).choice(ids, n, replace=False)]


def summary(name: str, ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    row = {
        "median": statistics.median(ordered),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "mean": statistics.fmean(ordered),
    }
    figures = "  ".join(f"{k} {v:7.2f} ms" for k, v in row.items())
    print(f"{name:<26} {figures}")
    return row


async def run(args: argparse.Namespace) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{args.database}",
        model_dir=args.models or args.database.parent / "models",
        llm_url="none://",
        cache_url="memory://",
        retrain_every_events=0,
        retrain_every_seconds=0,
        record_impressions=False,
    )
    await upgrade_async(settings.database_url)  # the copy may predate this branch's columns
    services = build_services(settings)
    service = services.recommendations
    started = time.perf_counter()
    if args.models:
        assert await services.models.refresh(), "no active model in --models"
    else:
        services.models.model = await asyncio.to_thread(embedding_model, args.database)
        services.models.version = "bench"
    model = services.models.model
    assert model is not None
    print(f"model: {len(model.item_ids):,} items in {time.perf_counter() - started:.1f}s")
    generation = await services.rec_cache.catalog_generation()
    plain = ListRequest(args.limit)
    selective = ListRequest(args.limit, Filters(expression=FILTER))

    started = time.perf_counter()
    columns = await services.recommendations.columns.columns(model, generation)
    print(f"catalogue columns built in {time.perf_counter() - started:.2f}s (once per process)")
    expr = parse(FILTER)
    started = time.perf_counter()
    passing = int(columns.mask(expr).sum())
    print(
        f"filter {FILTER!r}: {passing:,} of {len(columns):,} items pass "
        f"({100 * passing / len(columns):.2f} %); first evaluation (materialises the field) "
        f"{1000 * (time.perf_counter() - started):.1f} ms"
    )
    columns._masks.clear()
    started = time.perf_counter()
    columns.mask(expr)
    print(f"evaluating it again on the columns: {1000 * (time.perf_counter() - started):.2f} ms")

    sample = users(args.database, args.users + 20)
    for user in sample[:20]:  # warm-up: connections, caches, code paths
        await service.recommend(user, plain, generation)
        await service.recommend(user, selective, generation)
    times: dict[str, list[float]] = {"unfiltered": [], "filtered": []}
    lengths: list[int] = []
    for n, user in enumerate(sample[20:]):
        order = [("unfiltered", plain), ("filtered", selective)]
        for name, request in order if n % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            result = await service.recommend(user, request, generation)
            times[name].append(1000 * (time.perf_counter() - started))
            if name == "filtered":
                lengths.append(len(result.items))
    rows = {name: summary(f"uncached, {name}", ms) for name, ms in times.items()}
    full = sum(n == args.limit for n in lengths)
    print(f"filtered lists of {args.limit}: {full} of {len(lengths)} full")
    for stat in ("median", "mean", "p90"):
        ratio = rows["filtered"][stat] / rows["unfiltered"][stat]
        print(f"ratio filtered/unfiltered ({stat}): {ratio:.2f}x")
    after_write: list[float] = []
    for n, user in enumerate(sample[20 : 20 + args.writes]):  # a write moves the generation
        item = await services.store.get_contents([columns.ids[n * 997 % len(columns)]])
        await services.catalog_service.upsert(list(item.values()))
        generation = await services.rec_cache.catalog_generation()
        started = time.perf_counter()
        await service.recommend(user, selective, generation)
        after_write.append(1000 * (time.perf_counter() - started))
    summary("filtered, just after a write", after_write)
    await services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--models", type=Path)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--writes", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
