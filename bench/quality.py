"""Recommendation quality: Context IQ's default pipeline against peers, same splits, one run.

Peers (popularity, EASE, implicit ALS/BPR/item-item cosine, LightFM WARP) are tuned lightly
on a holdout carved from each training split; Context IQ tunes itself inside `fit`. SASRec is
the package's own sequential network used alone (`sequence.SequenceRecommender`, the code of
the blend's `sequence` part), early-stopped on each user's last training item and tuned on
that same validation over a small dropout grid; it only runs where events carry timestamps.
On leave-last-out, Context IQ is also fitted with the timestamps stripped from its training
events ("no timestamps"): what `offline fit-predict` does without a timestamp column
(`--timestamps without` fits only that one).
`--seeds` repeats every split at several seeds; `--margins` fits Context IQ once per
selection margin (0: the mix with the best validation mean, the rule before robust selection;
without it, the default model's own). `--model NAME` fits another family of
`contextiq.ml.families.MODEL_FAMILIES` in the default's place (blend-next: chosen for the next
event).
`--peer-cache FILE` keeps peer rows per split and seed.

    .venv/bin/python bench/quality.py --datasets ml-100k,ml-latest-small,lastfm \
        --protocols stratified,leave-last-out,rating,cold-items,speed --output quality.json

Needs the `bench` extra (implicit, lightfm) and ../shared/datasets.
"""

import argparse
import fcntl
import itertools
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np
import scipy.sparse as sp
import torch

from contextiq.config import DEFAULT_MODEL
from contextiq.ml.autorec import AutoRecConfig, AutoRecRating
from contextiq.ml.base import ItemFeatures, Recommender, WeightedInteraction
from contextiq.ml.blend import BlendConfig, BlendRecommender
from contextiq.ml.data import IdMap, build_matrix, strength_matrix
from contextiq.ml.datasets import Dataset, load_dataset
from contextiq.ml.ease import ease_weights
from contextiq.ml.evaluate import evaluate_ranking
from contextiq.ml.families import make_model
from contextiq.ml.features import FeatureVocabulary
from contextiq.ml.holdout import holdout_ndcg, holdout_positives
from contextiq.ml.index import top_k
from contextiq.ml.metrics import mae, rmse
from contextiq.ml.protocols import cold_item_split, leave_last_out, random_split, stratified_split
from contextiq.ml.rating import BiasedMF, RatingConfig
from contextiq.ml.sequence import SequenceConfig, SequenceRecommender

DATASETS = {
    "ml-100k": ("ml-100k", "ml-100k"),
    "ml-latest-small": ("ml-latest-small", "ml-latest-small"),
    "lastfm": ("hetrec2011-lastfm-2k", "lastfm"),
}
SEED = 42
#: SASRec's grid, judged on each user's last training item.
SASREC_GRID: list[dict[str, Any]] = [{"dropout": 0.2}, {"dropout": 0.5}]
LARGE_CATALOGUE = 12_000
Scorer = Callable[[sp.csr_matrix, dict[str, Any]], np.ndarray]


class MatrixPeer:
    """A peer fitted on the train matrix; scores users by their train row index."""

    def __init__(self, users: IdMap, items: IdMap, scores: np.ndarray) -> None:
        self.users, self.items, self.scores = users, items, scores

    @property
    def item_ids(self) -> Sequence[str]:
        return self.items.ids

    def score_users(
        self, users: Sequence[str], histories: Sequence[Mapping[str, float]]
    ) -> np.ndarray:
        rows = np.zeros((len(users), len(self.items)), np.float32)
        for r, user in enumerate(users):
            index = self.users.get(user)
            if index is not None:
                rows[r] = self.scores[index]
        return rows


def popularity(x: sp.csr_matrix, _: dict[str, Any]) -> np.ndarray:
    counts = np.asarray((x > 0).sum(axis=0), np.float32).ravel()
    return np.tile(counts, (x.shape[0], 1))


def ease(x: sp.csr_matrix, p: dict[str, Any]) -> np.ndarray:
    binary = (x > 0).astype(np.float32)
    gram = torch.from_numpy((binary.T @ binary).toarray())
    scores: np.ndarray = np.asarray(binary @ ease_weights(gram, p["l2"]).numpy(), np.float32)
    return scores


def _implicit(model: Any, x: sp.csr_matrix) -> np.ndarray:
    model.fit(x, show_progress=False)
    users = np.asarray(model.user_factors)
    items = np.asarray(model.item_factors)
    scores: np.ndarray = (users @ items.T).astype(np.float32)
    return scores


def als(x: sp.csr_matrix, p: dict[str, Any]) -> np.ndarray:
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=p["factors"],
        regularization=p["reg"],
        alpha=p["alpha"],
        iterations=15,
        num_threads=2,
        random_state=SEED,
    )
    return _implicit(model, x.maximum(0).tocsr())


def bpr(x: sp.csr_matrix, p: dict[str, Any]) -> np.ndarray:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(
        factors=p["factors"],
        learning_rate=p["lr"],
        regularization=0.01,
        iterations=100,
        num_threads=2,
        random_state=SEED,
    )
    return _implicit(model, (x > 0).astype(np.float32).tocsr())


def cosine(x: sp.csr_matrix, p: dict[str, Any]) -> np.ndarray:
    from implicit.nearest_neighbours import CosineRecommender

    model = CosineRecommender(K=p["k"], num_threads=2)
    positive = x.maximum(0).tocsr()
    model.fit(positive, show_progress=False)
    return np.asarray((positive @ model.similarity).toarray(), np.float32)


def lightfm_warp(x: sp.csr_matrix, p: dict[str, Any]) -> np.ndarray:
    from lightfm import LightFM

    model = LightFM(no_components=64, loss="warp", learning_rate=0.05, random_state=SEED)
    model.fit((x > 0).astype(np.float32).tocoo(), epochs=p["epochs"], num_threads=2)
    item_bias, item_vecs = model.get_item_representations()
    _, user_vecs = model.get_user_representations()
    scores: np.ndarray = (user_vecs @ item_vecs.T + item_bias[None, :]).astype(np.float32)
    return scores


PEERS: dict[str, tuple[Scorer, list[dict[str, Any]]]] = {
    "popularity": (popularity, [{}]),
    "EASE": (ease, [{"l2": v} for v in (100.0, 300.0, 1000.0)]),
    "ALS (implicit)": (
        als,
        [
            {"factors": f, "reg": 0.05, "alpha": a}
            for f, a in itertools.product((64, 128), (1.0, 10.0))
        ],
    ),
    "BPR (implicit)": (
        bpr,
        [{"factors": f, "lr": lr} for f, lr in itertools.product((64, 128), (0.01, 0.05))],
    ),
    "item-kNN cosine (implicit)": (cosine, [{"k": k} for k in (50, 200)]),
    "LightFM WARP": (lightfm_warp, [{"epochs": e} for e in (10, 30)]),
}


def tune(scorer: Scorer, grid: list[dict[str, Any]], x: sp.csr_matrix) -> dict[str, Any]:
    """Pick the grid point with the best nDCG@10 on a holdout carved from train only."""
    if len(grid) == 1:
        return grid[0]
    train, held = holdout_positives(x, 0.1, SEED)
    scored = [(holdout_ndcg(scorer(train, p), train, held), i) for i, p in enumerate(grid)]
    return grid[max(scored)[1]]


def implicit_view(dataset: Dataset) -> list[WeightedInteraction]:
    """MovieLens: every rating is an implicit positive; Last.fm keeps play counts."""
    if dataset.has_ratings:
        return [
            WeightedInteraction(e.user_id, e.item_id, 1.0, e.timestamp)
            for e in dataset.interactions
        ]
    return dataset.interactions


def chosen_settings(model: Recommender) -> dict[str, float]:
    if isinstance(model, BlendRecommender):
        shares = {f"{name} share": share for name, share in model.mix.shares.items()}
        return {**shares, "recency boost": model.mix.recency.boost}
    return {}


def sasrec(
    train: list[WeightedInteraction], features: list[ItemFeatures], seed: int
) -> tuple[SequenceRecommender, dict[str, Any]]:
    """The sequential network alone: the grid point with the best validation nDCG@10, refit."""
    tried = []
    for params in SASREC_GRID:
        config = SequenceConfig(seed=seed, refit=False, **params)
        model = SequenceRecommender(config).fit(train, features)
        tried.append((model.validation_ndcg, params, model))
    _, params, best = max(tried, key=lambda t: t[0])
    return best.refit(train, features), {**params, "epochs": best.trained_epochs}


class PeerCache:
    """Peer rows of one split kept in a JSON file: peers are deterministic per split and seed,
    so a rerun that only changes Context IQ need not fit them again (`--peer-cache`)."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        stored = json.loads(path.read_text()) if path.exists() else {}
        self.rows: dict[str, dict[str, Any]] = stored.get(key, {})

    def keep(self, row: dict[str, Any]) -> None:
        """Add one row; readers (and other runs filling the same file) never see it half-written:
        the read-modify-write holds a lock file and the new text replaces the old by a rename."""
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stored = json.loads(self.path.read_text()) if self.path.exists() else {}
            stored.setdefault(self.key, {})[row["model"]] = row
            temporary = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(stored, indent=2))
            os.replace(temporary, self.path)


def ours(family: str, seed: int, margin: float | None) -> Recommender:
    """The model family named; with a margin, its blend's choice judged with that margin."""
    model = make_model(family, seed)
    if margin is None:
        return model
    assert isinstance(model, BlendRecommender), "only a blend has a choice margin"
    choice = replace(model.config.choice, margin=margin)
    return BlendRecommender(BlendConfig(**{**model.config.__dict__, "choice": choice}))


def ranking_rows(
    dataset: Dataset,
    train: list[WeightedInteraction],
    test: list[WeightedInteraction],
    peers: Sequence[str],
    seed: int = SEED,
    margins: Sequence[float | None] = (None,),
    timestamps: Sequence[str] = ("with",),
    ours_too: bool = True,
    cache: PeerCache | None = None,
    family: str = DEFAULT_MODEL,
) -> list[dict[str, Any]]:
    universe = sorted({e.item_id for e in itertools.chain(train, test)})
    features = [i for i in dataset.items if i.item_id in set(universe)]
    matrix = build_matrix(train, universe)
    x = strength_matrix(matrix.weights)
    rows = []
    timed = all(e.timestamp is not None for e in train)
    variants = [("", train)] if "with" in timestamps or not timed else []
    if "without" in timestamps and timed:
        variants.append((" no timestamps", [replace(e, timestamp=None) for e in train]))
    for suffix, events in variants if ours_too else []:
        for margin in margins:
            shown = f", margin {margin}" if margin is not None else ""
            label = (
                f"Context IQ ({'default' if family == DEFAULT_MODEL else family}" + suffix + shown
            )
            started = time.perf_counter()
            model = ours(family, seed, margin).fit(events, features)
            fit_seconds = time.perf_counter() - started
            metrics = evaluate_ranking(model, train, test, candidates=universe)
            rows.append(
                {
                    "model": label + ")",
                    "fit_s": fit_seconds,
                    **metrics,
                    "params": chosen_settings(model),
                }
            )
            show(rows[-1])
    for name in peers:
        if cache is not None and name in cache.rows:
            rows.append(cache.rows[name])
            show(rows[-1])
            continue
        if name == "SASRec":
            if not timed:
                continue
            started = time.perf_counter()
            sequential, params = sasrec(train, features, seed)
            fit_seconds = time.perf_counter() - started
            metrics = evaluate_ranking(sequential, train, test, candidates=universe)
            rows.append({"model": name, "fit_s": fit_seconds, **metrics, "params": params})
            show(rows[-1])
            if cache is not None:
                cache.keep(rows[-1])
            continue
        scorer, grid = PEERS[name]
        if scorer is ease and x.shape[1] > LARGE_CATALOGUE:
            grid = [{"l2": 300.0}]  # the inverse is cubic in items: one L2 on big catalogues
        started = time.perf_counter()
        params = tune(scorer, grid, x)
        peer = MatrixPeer(matrix.users, matrix.items, scorer(x, params))
        fit_seconds = time.perf_counter() - started
        metrics = evaluate_ranking(peer, train, test, candidates=universe)
        rows.append({"model": name, "fit_s": fit_seconds, **metrics, "params": params})
        show(rows[-1])
        if cache is not None:
            cache.keep(rows[-1])
    return rows


def show(row: dict[str, Any]) -> None:
    """One result row as JSON on stdout, as soon as it is measured (the runs are long)."""
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
    print(json.dumps(shown), flush=True)


def rating_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """Context IQ's rating model against biased MF and biases alone, on one random split."""
    train, test = random_split(dataset.interactions, 0.2, SEED)
    actual = [e.weight for e in test]
    pairs = [(e.user_id, e.item_id) for e in test]
    models: list[tuple[str, Callable[[], AutoRecRating | BiasedMF]]] = [
        ("Context IQ rating model (I-AutoRec)", lambda: AutoRecRating(AutoRecConfig(seed=SEED))),
        ("biased MF (PyTorch, 64 factors)", lambda: BiasedMF(RatingConfig(seed=SEED))),
        ("global mean + user and item biases", lambda: BiasedMF(RatingConfig(dim=0, seed=SEED))),
    ]
    rows = []
    for name, build in models:
        started = time.perf_counter()
        model = build().fit(train)
        fit_seconds = time.perf_counter() - started
        predicted = model.predict(pairs)
        rows.append(
            {
                "model": name,
                "fit_s": fit_seconds,
                "rmse": rmse(predicted, actual),
                "mae": mae(predicted, actual),
                "params": getattr(model, "l2", None),
            }
        )
    return rows


def cold_item_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """Recall@10 among held-out items only: ours via features, popularity via genre counts."""
    train, test, cold = cold_item_split(implicit_view(dataset), 0.1, SEED)
    warm_items = [i for i in dataset.items if i.item_id not in cold]
    cold_items = [i for i in dataset.items if i.item_id in cold]
    ours = make_model(seed=SEED).fit(train, warm_items)
    ours.add_items(cold_items)
    rows = [
        {"model": "Context IQ (features)", **evaluate_ranking(ours, train, test, candidates=cold)}
    ]
    rows.append(
        {
            "model": "popularity of the item's features",
            **evaluate_ranking(
                FeaturePopularity(train, warm_items, cold_items), train, test, candidates=cold
            ),
        }
    )
    return rows


class FeaturePopularity:
    """Scores a cold item by the mean train popularity of warm items sharing its features."""

    def __init__(
        self, train: list[WeightedInteraction], warm: list[ItemFeatures], cold: list[ItemFeatures]
    ) -> None:
        counts: dict[str, float] = {}
        for e in train:
            counts[e.item_id] = counts.get(e.item_id, 0.0) + 1.0
        vocab = FeatureVocabulary.fit(warm + cold, min_count=1)
        warm_f, cold_f = vocab.encode(warm), vocab.encode(cold)
        pop = np.array([counts.get(i.item_id, 0.0) for i in warm], np.float32)
        token_pop = (warm_f.T @ pop) / np.maximum(np.asarray(warm_f.sum(axis=0)).ravel(), 1e-8)
        self.items = IdMap(i.item_id for i in cold)
        self.scores = np.asarray(cold_f @ token_pop, np.float32).ravel()

    @property
    def item_ids(self) -> Sequence[str]:
        return self.items.ids

    def score_users(
        self, users: Sequence[str], histories: Sequence[Mapping[str, float]]
    ) -> np.ndarray:
        return np.tile(self.scores, (len(users), 1))


def speed_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """Fit time against the EASE peer, and per-request latency against a bare top-k."""
    events = implicit_view(dataset)
    matrix = build_matrix(events)
    x = strength_matrix(matrix.weights)
    started = time.perf_counter()
    ours = make_model(seed=SEED).fit(events, dataset.items)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ease(x, {"l2": 300.0})
    ease_seconds = time.perf_counter() - started
    histories = [matrix.history(u) for u in range(min(200, len(matrix.users)))]
    started = time.perf_counter()
    for history in histories:
        ours.recommend(history, 10, exclude=history)
    request_ms = (time.perf_counter() - started) * 1000 / len(histories)
    counts = np.asarray((x > 0).sum(axis=0), np.float32).ravel()
    started = time.perf_counter()
    for history in histories:
        seen = np.fromiter((matrix.items[i] for i in history), np.int64)
        top_k(counts, 10, seen)
    floor_ms = (time.perf_counter() - started) * 1000 / len(histories)
    with tempfile.TemporaryDirectory() as folder:
        ours.save(Path(folder) / "model")
        started = time.perf_counter()
        type(ours).load(Path(folder) / "model")
        load_ms = (time.perf_counter() - started) * 1000
    return [
        {
            "measure": "fit on all events (s)",
            "ours": fit_seconds,
            "peer": "EASE, one L2",
            "peer_value": ease_seconds,
            "ratio": fit_seconds / ease_seconds,
        },
        {
            "measure": "recommend, one user (ms)",
            "ours": request_ms,
            "peer": "popularity top-k",
            "peer_value": floor_ms,
            "ratio": request_ms / floor_ms,
        },
        {"measure": "load a saved model (ms)", "ours": load_ms},
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="ml-100k,ml-latest-small,lastfm")
    parser.add_argument("--protocols", default="stratified,leave-last-out,rating,cold-items")
    parser.add_argument("--peers", default=",".join([*PEERS, "SASRec"]))
    parser.add_argument("--seeds", default=str(SEED), help="splits and models, comma-separated")
    parser.add_argument(
        "--margins", default="", help="Context IQ's selection margins (default: the model's own)"
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="Context IQ's model family (default: blend)"
    )
    parser.add_argument("--peer-cache", type=Path, default=None, help="JSON file of peer rows")
    parser.add_argument("--peers-only", action="store_true", help="skip Context IQ's own rows")
    parser.add_argument(
        "--timestamps",
        default="with,without",
        help="leave-last-out: fit Context IQ with the events' timestamps, without them, or both",
    )
    parser.add_argument("--root", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    peers = [p for p in args.peers.split(",") if p]
    margins: list[float | None] = [float(m) for m in args.margins.split(",") if m] or [None]
    ours = not args.peers_only
    times = args.timestamps.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, Any] = {}
    for name in args.datasets.split(","):
        folder, fmt = DATASETS[name]
        dataset = load_dataset(args.root / folder, fmt)  # type: ignore[arg-type]
        for protocol, seed in itertools.product(args.protocols.split(","), seeds):
            if protocol == "rating" and not dataset.has_ratings:
                continue
            if protocol not in RANKING and seed != seeds[0]:
                continue  # the other protocols run at the fixed SEED
            key = f"{name}/{protocol}" + (f"/seed {seed}" if protocol in RANKING else "")
            print(f"\n### {key}", flush=True)
            cache = PeerCache(args.peer_cache, key) if args.peer_cache else None
            if protocol == "stratified":
                split = stratified_split(implicit_view(dataset), 0.25, seed)
                rows = ranking_rows(
                    dataset, *split, peers, seed, margins, ("with",), ours, cache, args.model
                )
            elif protocol == "leave-last-out":
                split = leave_last_out(implicit_view(dataset), seed)
                rows = ranking_rows(
                    dataset, *split, peers, seed, margins, times, ours, cache, args.model
                )
            elif protocol == "rating":
                rows = rating_rows(dataset)
            elif protocol == "speed":
                rows = speed_rows(dataset)
            else:
                rows = cold_item_rows(dataset)
            results[key] = rows
            if protocol not in RANKING:  # ranking rows were shown as they came
                for row in rows:
                    show(row)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))


RANKING = ("stratified", "leave-last-out")


if __name__ == "__main__":
    main()
