"""A model of the default blend's shape over an imported catalogue, with made-up weights.

Serving cost depends on the model's shapes, not its values, and training the default blend
on 100,000 items takes longer than a serving benchmark should wait. This writes a blend of
the package's own classes (embedding dim 200 over every item, EASE over the 6,000 most
popular, item transitions with 20 per row) and publishes it through the registry, which
also saves its ANN index and item neighbours as `contextiq train` would. The vectors are
category centres plus noise, so items of a category sit together as trained ones do.

    .venv/bin/python bench/scale_model.py --database /tmp/scale/db.sqlite --models /tmp/scale/models
"""

import argparse
import json
import logging
import sqlite3
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from contextiq.ml.base import ItemFeatures
from contextiq.ml.blend import BlendRecommender
from contextiq.ml.blend_choice import Mix
from contextiq.ml.blend_parts import EasePart, EmbeddingPart, TransitionsPart
from contextiq.ml.data import IdMap, Recency
from contextiq.ml.features import FeatureVocabulary
from contextiq.ml.registry import ModelRegistry
from contextiq.ml.rows import GrowingRows
from contextiq.ml.train import TrainReport
from contextiq.ml.transitions import ItemTransitions

DIM = 200
EASE_ITEMS = 6000
PER_ROW = 200


def catalogue(database: Path) -> tuple[list[ItemFeatures], np.ndarray]:
    """Every item's features, and its interaction count (0 when it has none)."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT content_id, title, category, tags FROM content ORDER BY 1")
        items = [ItemFeatures(i, t, c, tuple(json.loads(g))) for i, t, c, g in rows]
        counts = dict(db.execute("SELECT content_id, interactions FROM content_stats"))
    return items, np.array([counts.get(i.item_id, 0) for i in items], np.float32)


def blend(items: list[ItemFeatures], counts: np.ndarray, seed: int) -> BlendRecommender:
    rng = np.random.default_rng(seed)
    ids = [i.item_id for i in items]
    n = len(ids)
    categories = sorted({i.category for i in items})
    category = np.array([categories.index(i.category) for i in items])
    vocabulary = FeatureVocabulary.fit(items)
    centres = rng.normal(size=(len(categories), DIM))

    def table() -> np.ndarray:
        rows = centres[category] + 0.7 * rng.normal(size=(n, DIM))
        scaled: np.ndarray = (rows / np.sqrt(DIM)).astype(np.float32)
        return scaled

    model = BlendRecommender()
    embedding = EmbeddingPart()
    net = embedding.model
    net._items, net._vocab = IdMap(ids), vocabulary
    net._item_in, net._item_out = GrowingRows(table()), GrowingRows(table())
    net._bias = GrowingRows((0.3 * np.log1p(counts)).astype(np.float32))
    tokens = len(vocabulary)
    net._token_in = net._token_out = np.zeros((tokens, DIM), np.float32)
    net._token_bias = np.zeros(tokens, np.float32)
    net.trained_epochs = 1

    ease = EasePart()
    linear = ease.model
    linear._items, linear._vocab = IdMap(ids), vocabulary
    linear._item_features = vocabulary.encode(items)
    linear._modelled = np.sort(np.argsort(-counts, kind="stable")[:EASE_ITEMS]).astype(np.int64)
    linear._position = np.full(n, -1, np.int64)
    linear._position[linear._modelled] = np.arange(len(linear._modelled))
    weights = rng.normal(scale=0.01, size=(EASE_ITEMS, EASE_ITEMS)).astype(np.float32)
    np.fill_diagonal(weights, 0.0)
    linear._weights = weights
    linear._new_items()

    transitions = TransitionsPart()
    members = [np.flatnonzero(category == c) for c in range(len(categories))]
    targets = np.concatenate(
        [members[c][rng.integers(0, len(members[c]), PER_ROW)] for c in category]
    )
    steps = sp.csr_matrix(
        (rng.random(n * PER_ROW).astype(np.float32), (np.repeat(np.arange(n), PER_ROW), targets)),
        shape=(n, n),
    )
    totals = np.asarray(steps.sum(axis=1)).ravel()
    matrix = sp.csr_matrix((sp.diags(1.0 / np.maximum(totals, 1e-9)) @ steps).astype(np.float32))
    transitions.model = ItemTransitions(linear.item_map)
    transitions.model._matrix = matrix

    model.parts = {"ease": ease, "embedding": embedding, "transitions": transitions}
    model.mix = Mix({"embedding": 0.5, "transitions": 0.1}, Recency(boost=1.0))
    model._items = linear.item_map
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    items, counts = catalogue(args.database)
    model = blend(items, counts, args.seed)
    print(f"built a blend over {len(items)} items in {time.perf_counter() - started:.0f}s")
    report = TrainReport(model, {"ndcg@10": 0.0}, None, True, 0.0, 0, len(items), 0)
    saving = time.perf_counter()
    registry = ModelRegistry(args.models)
    version = registry.save(model, report)
    registry.promote(version)
    print(f"saved and promoted {version} in {time.perf_counter() - saving:.0f}s")


if __name__ == "__main__":
    main()
