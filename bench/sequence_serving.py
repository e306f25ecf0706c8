"""In-process cost of one uncached request to the sequential part over a large catalogue.

    .venv/bin/python bench/sequence_serving.py [--items 100000] [--history 50] [--requests 300]

Fits `SequenceRecommender` (the blend's `sequence` part, default size: 64 dimensions, two
blocks, the last 50 events) for one epoch on generated sequences over `--items` items, so the
item table has the served size, then times `recommend` for histories of `--history` items
(one forward pass plus one matrix-vector product, the history excluded) against a bare top-k
over a precomputed score vector of the same size (the floor any model pays to rank).
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.index import top_k
from contextiq.ml.sequence import SequenceConfig, SequenceRecommender


def generated(items: int, users: int, length: int, seed: int) -> list[WeightedInteraction]:
    rng = np.random.default_rng(seed)
    events = []
    for u in range(users):
        for step, item in enumerate(rng.choice(items, length, replace=False)):
            events.append(WeightedInteraction(f"u{u}", f"i{item}", 1.0, float(step)))
    return events


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    catalogue = [ItemFeatures(f"i{j}", category=f"c{j % 50}") for j in range(args.items)]
    events = generated(args.items, 500, args.history + 1, seed=0)
    config = SequenceConfig(max_epochs=1, validate=False)
    started = time.perf_counter()
    model = SequenceRecommender(config).fit(events, catalogue)
    print(f"fitted over {len(model.item_ids)} items in {time.perf_counter() - started:.1f}s")
    rng = np.random.default_rng(1)
    histories = [
        {f"i{j}": 1.0 for j in rng.choice(args.items, args.history, replace=False)}
        for _ in range(args.requests)
    ]
    model.recommend(histories[0], 10, exclude=histories[0])  # first-call setup
    timings = []
    for history in histories:
        started = time.perf_counter()
        model.recommend(history, 10, exclude=history)
        timings.append(time.perf_counter() - started)
    scores = np.random.default_rng(2).random(args.items).astype(np.float32)
    floor = []
    for history in histories:
        seen = np.fromiter((int(i[1:]) for i in history), np.int64)
        started = time.perf_counter()
        top_k(scores, 10, seen)
        floor.append(time.perf_counter() - started)
    print({"sequence recommend": percentiles(timings), "bare top-k": percentiles(floor)})


if __name__ == "__main__":
    main()
