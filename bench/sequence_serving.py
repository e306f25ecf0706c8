"""In-process cost of one uncached request to the sequential part over a large catalogue, as served.

    .venv/bin/python bench/sequence_serving.py [--items 100000] [--users 2000] [--history 50] \
        [--requests 300]
    .venv/bin/python bench/sequence_serving.py --recall ml-latest-small [--epochs 24] \
        [--root ../shared/datasets]

Fits `SequenceRecommender` (the blend's `sequence` part, default size: 64 dimensions, two
blocks, the last 50 events) for one epoch on generated sequences over `--items` items (each
user walks among the items of one of 300 topics, and an item's category is its topic, so the
item table clusters as a trained one does), saves it as the registry does (with its ANN index)
and loads it back memory-mapped. Then, for histories of `--history` items (the history
excluded, top 10), times each stage of a request separately:

- `ann recommend`: `recommend` after `enable_ann(CONTEXTIQ_ANN_MIN_ITEMS)`, the sequence family
  as the service calls it (forward pass, index search, the candidates scored exactly);
- `blend part`: what the part adds to a candidate blend (`SequencePart.scored`: forward pass and
  whole-catalogue moments, its `best` candidates, the pool's standardised scores);
- `forward pass`: the history's "what next" vector alone;
- `exact recommend`: every item scored (`enable_ann(0)`, the path below the threshold);
- `bare top-k`: a top-k over a precomputed score vector of the catalogue's size, the floor any
  exact ranking pays.

A table trained for one epoch on generated walks is no guide to what the index finds, so what
the ANN path costs in quality is measured apart (`--recall`): the part trained for `--epochs`
epochs on a public dataset's leave-last-out split, each test user's top 10 through the index
(`enable_ann`, whatever the catalogue's size) against exact scoring: recall@10 (an ANN item
counts when its exact score reaches the exact 10th best, so ties count) and nDCG@10 of the
held-out item either way.
"""

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from contextiq.config import get_settings
from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.blend_parts import SequencePart
from contextiq.ml.candidates import standardised
from contextiq.ml.data import history_vector
from contextiq.ml.datasets import DatasetFormat, load_dataset
from contextiq.ml.evaluate import histories_by_user
from contextiq.ml.index import InnerProductIndex, top_k
from contextiq.ml.metrics import ndcg_of_hits
from contextiq.ml.protocols import leave_last_out
from contextiq.ml.sequence import SequenceConfig, SequenceRecommender

TOPICS = 300


def generated(items: int, users: int, length: int, seed: int) -> list[WeightedInteraction]:
    """Each user's `length` distinct items of one topic (item j's topic is j % TOPICS)."""
    rng = np.random.default_rng(seed)
    per_topic = items // TOPICS
    events = []
    for u in range(users):
        topic = u % TOPICS
        for step, slot in enumerate(rng.choice(per_topic, length, replace=False)):
            events.append(WeightedInteraction(f"u{u}", f"i{slot * TOPICS + topic}", 1.0, step))
    return events


def timed(
    requests: list[dict[str, float]], call: Callable[[dict[str, float]], object]
) -> dict[str, float]:
    """Median and 95th percentile of `call` over the requests, in milliseconds.

    A first pass is not timed: it maps in the pages of the memory-mapped table and index that
    the requests touch, as a serving process's are after its first requests.
    """
    for history in requests:
        call(history)
    samples = []
    for history in requests:
        started = time.perf_counter()
        call(history)
        samples.append(time.perf_counter() - started)
    ms = np.array(samples) * 1000
    return {
        "median_ms": round(float(np.median(ms)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


def recall(dataset: DatasetFormat, root: Path, epochs: int) -> None:
    """Recall@10 of the ANN path against exact scoring, and nDCG@10 of both, on leave-last-out."""
    data = load_dataset(root / dataset, dataset)
    train, test = leave_last_out(data.interactions, seed=0)
    started = time.perf_counter()
    config = SequenceConfig(max_epochs=epochs, validate=False)
    model = SequenceRecommender(config).fit(train, data.items)
    print(f"fitted {epochs} epochs on {dataset} in {time.perf_counter() - started:.0f}s")
    histories = histories_by_user(train)
    held = {e.user_id: e.item_id for e in test}
    users = sorted(held)
    print(f"{len(users)} users, {len(model.item_ids)} items")
    exact = [model.recommend(histories[u], 10, exclude=histories[u]) for u in users]
    tenth = [min(s for _, s in best) for best in exact]
    ones = np.ones(len(users), np.int64)

    def report(name: str, lists: list[list[tuple[str, float]]]) -> None:
        """nDCG@10 and recall@10 (a short list misses the rest), and how many lists fell short."""
        hits = np.zeros((len(users), 10), np.bool_)
        found = np.zeros(len(users))
        for r, (u, top, floor) in enumerate(zip(users, lists, tenth, strict=True)):
            hits[r, : len(top)] = [i == held[u] for i, _ in top]
            scores = model.scores(histories[u])[model.item_map.lookup([i for i, _ in top])]
            found[r] = np.count_nonzero(scores >= floor - 1e-5) / 10
        ndcg = ndcg_of_hits(hits, ones, 10).mean()
        short = sum(len(top) < 10 for top in lists)
        print(
            f"{name}: nDCG@10 of the held-out item {ndcg:.4f}, recall@10 {found.mean():.3f}, "
            f"lists shorter than 10: {short}"
        )

    report("exact", exact)
    for share in sorted({InnerProductIndex.PROBE_SHARE, SequenceRecommender.probe_share}):
        SequenceRecommender.probe_share = share  # the embedding's share, and the shipped one
        model.enable_ann(1)
        lists = [model.recommend(histories[u], 10, exclude=histories[u]) for u in users]
        report(f"ann, 1/{1 / share:.0f} of the clusters", lists)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--recall", choices=["ml-100k", "ml-latest-small", "lastfm"])
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--root", type=Path, default=Path("../shared/datasets"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.recall:
        recall(args.recall, args.root, args.epochs)
        return
    catalogue = [ItemFeatures(f"i{j}", category=f"c{j % TOPICS}") for j in range(args.items)]
    events = generated(args.items, args.users, args.history + 1, seed=0)
    started = time.perf_counter()
    fitted = SequenceRecommender(SequenceConfig(max_epochs=1, validate=False))
    fitted.fit(events, catalogue)
    print(f"fitted over {args.items} items in {time.perf_counter() - started:.1f}s")
    folder = Path(tempfile.mkdtemp(prefix="sequence_serving-"))
    started = time.perf_counter()
    fitted.save(folder)
    print(f"saved (with its index) in {time.perf_counter() - started:.1f}s")
    model = SequenceRecommender.load(folder)
    part = SequencePart()
    part.model = model
    ann_min_items = get_settings().ann_min_items
    rng = np.random.default_rng(1)
    per_topic = args.items // TOPICS
    requests = [
        {f"i{s * TOPICS + t}": 1.0 for s in rng.choice(per_topic, args.history, replace=False)}
        for t in rng.integers(0, TOPICS, args.requests)
    ]

    def part_cost(history: dict[str, float]) -> None:
        scored = part.scored(*history_vector(history, model.item_map))
        standardised(scored, scored.best(10 + len(history), None))

    model.enable_ann(0)
    results = {"exact recommend": timed(requests, lambda h: model.recommend(h, 10, exclude=h))}
    model.enable_ann(ann_min_items)
    assert model.uses_ann, f"{args.items} items is below CONTEXTIQ_ANN_MIN_ITEMS={ann_min_items}"
    results["ann recommend"] = timed(requests, lambda h: model.recommend(h, 10, exclude=h))
    results["blend part"] = timed(requests, part_cost)
    results["forward pass"] = timed(
        requests, lambda h: model.user_vector(*history_vector(h, model.item_map))
    )
    scores = np.random.default_rng(2).random(args.items).astype(np.float32)
    results["bare top-k"] = timed(
        requests, lambda h: top_k(scores, 10, np.fromiter((int(i[1:]) for i in h), np.int64))
    )
    floor = results["bare top-k"]["median_ms"]
    for name, figures in results.items():
        print(f"{name}: {figures} ({figures['median_ms'] / floor:.1f}x bare top-k)")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
