"""Exact scoring against the ANN index on a large synthetic catalogue: latency and recall@10.

The item vectors are clustered like trained embeddings (a few hundred topics plus noise) and
each query is a folded-in user, tanh of the sum of a few items' vectors, as the model builds it.

    .venv/bin/python bench/ann.py --items 300000 --dim 200
"""

import argparse
import time

import numpy as np
import numpy.typing as npt

from contextiq.ml.index import InnerProductIndex, top_k


def catalogue(items: int, dim: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """[item vector | bias] rows: topic centres plus noise, a popularity-like bias last."""
    topics = rng.normal(size=(300, dim)).astype(np.float32)
    rows = topics[rng.integers(0, len(topics), items)] + 0.5 * rng.normal(size=(items, dim))
    bias = rng.normal(scale=2.0, size=(items, 1))
    return np.hstack([rows / np.sqrt(dim), bias]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300_000)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = catalogue(args.items, args.dim, rng)
    users = [
        np.append(np.tanh(rows[rng.integers(0, args.items, 5), :-1].sum(axis=0) * 3), 1.0)
        for _ in range(args.queries)
    ]
    started = time.perf_counter()
    index = InnerProductIndex.build(rows)
    build = time.perf_counter() - started

    exact, approximate, recalls = [], [], []
    for user in users:
        query = user.astype(np.float32)
        t0 = time.perf_counter()
        best, _ = top_k(rows @ query, 10)
        t1 = time.perf_counter()
        found = index.search(query, 10)
        t2 = time.perf_counter()
        exact.append(t1 - t0)
        approximate.append(t2 - t1)
        recalls.append(len(set(best.tolist()) & set(found.tolist())) / 10)
    exact_ms, ann_ms = 1000 * np.median(exact), 1000 * np.median(approximate)
    print(f"items {args.items}, dim {args.dim}, queries {args.queries}")
    print(f"index build: {build:.1f} s")
    print(f"exact top-10 (numpy matvec + argpartition): median {exact_ms:.2f} ms")
    print(f"ANN top-10 (faiss IVF-Flat, 4 sqrt(n) lists, 1/16 probed): median {ann_ms:.3f} ms")
    print(f"speed-up: {exact_ms / ann_ms:.1f}x, recall@10 against exact: {np.mean(recalls):.3f}")


if __name__ == "__main__":
    main()
