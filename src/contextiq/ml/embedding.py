"""The PyTorch user/content embedding recommender (the core model family).

Training: full-catalogue softmax (or BPR) on users' histories with input
dropout, early-stopped on a holdout carved from the training data, then refit on
everything for the chosen number of epochs (or, inside a blend, early-stopped on the
blend's own validation: `fit_judged`). Serving uses plain numpy arrays so a
request costs one small matrix-vector product.

Above `full_softmax_items` items a full softmax costs a users x items product per batch
and a dense update of every item row per step, so training switches to a sampled softmax
(`sampled.py`): each user's positives against shared uniform negatives, histories read as
sparse bags, and only the touched item rows updated.
"""

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.data import IdMap, build_matrix, strength_matrix
from contextiq.ml.early_stop import EarlyStopping
from contextiq.ml.features import FeatureVocabulary
from contextiq.ml.holdout import holdout_positives, judged_ndcg, sample_users
from contextiq.ml.loss import bpr_loss, multinomial_loss
from contextiq.ml.model import FoldInNet
from contextiq.ml.optim import Adam
from contextiq.ml.retrieval import VectorRecommender
from contextiq.ml.rows import FloatArray, GrowingRows, load_array, save_arrays
from contextiq.ml.sampled import SampledSoftmaxTrainer, to_torch_sparse

log = logging.getLogger(__name__)
#: A progress line at most this often: a small catalogue runs an epoch in milliseconds.
EPOCH_LINE_EVERY_S = 5.0


@dataclass(frozen=True)
class EmbeddingConfig:
    dim: int = 200
    max_epochs: int = 200
    patience: int = 2
    eval_every: int = 5
    batch_size: int = 256
    learning_rate: float = 6e-3
    weight_decay: float = 0.0
    dropout: float = 0.5
    content_loss: float = 0.0
    loss: Literal["softmax", "bpr"] = "softmax"
    validation_fraction: float = 0.1
    refit: bool = True
    seed: int = 0
    #: Above this many items, train with a sampled softmax (`sampled.py`) instead of a full one.
    full_softmax_items: int = 20_000
    #: Shared uniform negatives per batch, and users per batch, for the sampled softmax.
    negatives: int = 2048
    sampled_batch_size: int = 1024
    #: Judge the sampled softmax every epoch (its epochs are long, and it needs fewer).
    sampled_eval_every: int = 1
    #: Users whose histories train the item tables at most (a seeded sample above it).
    max_train_users: int = 20_000
    #: Judged training (either softmax) starts no new epoch after this long (the refit then
    #: trains the epochs chosen within it), so a large catalogue's training time stays bounded:
    #: a full softmax over 20,000 items and users takes about 18 s an epoch on two cores.
    max_seconds: float = 180.0


def _dropped(rows: sp.csr_matrix, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Dense rows with each stored interaction dropped with probability `rate` (input dropout).

    Dropout on the dense rows would only ever zero stored entries, so sampling those alone is
    the same at a fraction of the cost; the fold-in normalises, so no rescaling is needed.
    """
    if rate > 0:
        rows = rows.copy()
        rows.data *= (torch.rand(rows.nnz, generator=generator) >= rate).numpy()
    return torch.from_numpy(rows.toarray().astype(np.float32))


def _dense_rows(matrix: sp.csr_matrix, rows: npt.NDArray[np.int64]) -> torch.Tensor:
    return torch.from_numpy(matrix[rows].toarray().astype(np.float32))


class EmbeddingRecommender(VectorRecommender):
    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()
        self._items = IdMap()
        self._vocab = FeatureVocabulary()
        # Served tables: memory-mapped from the registry on load, grown by `add_items`.
        self._item_in = GrowingRows(np.zeros((0, self.config.dim), np.float32))
        self._item_out = GrowingRows(np.zeros((0, self.config.dim), np.float32))
        self._bias = GrowingRows(np.zeros(0, np.float32))
        self._token_in = np.zeros((0, self.config.dim), np.float32)
        self._token_out = np.zeros((0, self.config.dim), np.float32)
        self._token_bias = np.zeros(0, np.float32)
        self.trained_epochs = 0
        self._index_seed = self.config.seed

    # -- training -------------------------------------------------------------------------

    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Early-stop on a holdout carved from `interactions`, then refit on all of them."""
        cfg = self.config
        history, features = self._prepare(interactions, items)
        epochs = cfg.max_epochs
        if cfg.validation_fraction > 0:
            train, held = holdout_positives(history, cfg.validation_fraction, cfg.seed)
            net, epochs = self._train(
                train,
                features,
                cfg.max_epochs,
                lambda net: judged_ndcg(
                    lambda users: self._score_rows(net, train, users), train, held, cfg.seed
                ),
            )
        if cfg.validation_fraction <= 0 or cfg.refit:
            net, _ = self._train(history, features, epochs, None)
        self._finish(net, history, features, epochs)
        return self

    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Train on all of `interactions` for the epochs the last fit chose, without a holdout."""
        self.config = replace(self.config, validation_fraction=0.0, max_epochs=self.trained_epochs)
        return self.fit(interactions, items)

    def fit_judged(
        self,
        interactions: Sequence[WeightedInteraction],
        items: Sequence[ItemFeatures],
        judge: Callable[[Self], float],
    ) -> Self:
        """Train on all of `interactions`, early-stopped on `judge` of the model so far.

        How a blend tunes the embedding for its part in the mix rather than on its own:
        alone, it stops when its own ranking peaks, sooner than the mix would like.
        """
        history, features = self._prepare(interactions, items)

        def judged(net: FoldInNet) -> float:
            self._finish(net, history, features, 0)
            return judge(self)

        net, epochs = self._train(history, features, self.config.max_epochs, judged)
        self._finish(net, history, features, epochs)
        return self

    def _prepare(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Set up the id map and vocabulary; return signed strengths and item features.

        Users are folded in from their histories, so the item tables can be learnt from a
        seeded sample of at most `max_train_users` users and still serve everyone; items only
        the others touched are then scored from their features, like untouched ones.
        """
        data = build_matrix(interactions, (i.item_id for i in items))
        self._items = data.items
        by_id = {i.item_id: i for i in items}
        self._vocab = FeatureVocabulary.fit(items)
        features = self._vocab.encode([by_id.get(i) for i in data.items.ids])
        weights = data.weights
        if weights.shape[0] > self.config.max_train_users > 0:
            users = np.arange(weights.shape[0])
            weights = weights[sample_users(users, self.config.max_train_users, self.config.seed)]
        return strength_matrix(weights), features

    def _finish(
        self, net: FoldInNet, history: sp.csr_matrix, features: sp.csr_matrix, epochs: int
    ) -> None:
        self.trained_epochs = epochs
        item_in, item_out, bias = self._export(net)
        untouched = np.flatnonzero(history.getnnz(axis=0) == 0)
        if len(untouched):
            # Catalogue items nobody touched were only ever softmax negatives: use their
            # features, so they rank as a brand-new item from `add_items` would.
            rows = self._from_features(features[untouched])
            item_in[untouched], item_out[untouched], bias[untouched] = rows
        self._item_in, self._item_out = GrowingRows(item_in), GrowingRows(item_out)
        self._bias = GrowingRows(bias)

    def _train(
        self,
        history: sp.csr_matrix,
        features: sp.csr_matrix,
        max_epochs: int,
        judge: Callable[[FoldInNet], float] | None,
    ) -> tuple[FoldInNet, int]:
        """Train from scratch; with a judge, stop early and return the best state and epoch."""
        cfg = self.config
        if history.shape[1] > cfg.full_softmax_items:
            return SampledSoftmaxTrainer(cfg).train(history, features, max_epochs, judge)
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            generator = torch.Generator().manual_seed(cfg.seed)
            net = FoldInNet(history.shape[1], to_torch_sparse(features), cfg.dim)
            optimiser = Adam(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
            targets = history.maximum(0).tocsr()
            users = np.flatnonzero(np.diff(targets.indptr))
            stopping = EarlyStopping(cfg.patience, max_epochs, cfg.max_seconds, "embedding")
            shown = time.monotonic()
            for epoch in range(1, max_epochs + 1):
                net.train()
                order = users[torch.randperm(len(users), generator=generator).numpy()]
                for start in range(0, len(order), cfg.batch_size):
                    batch = order[start : start + cfg.batch_size]
                    users_vec, logits = net(_dropped(history[batch], cfg.dropout, generator))
                    target = _dense_rows(targets, batch)
                    loss = self._loss(logits, target, generator)
                    if cfg.content_loss and features.shape[1]:
                        content = net.content_logits(users_vec)
                        loss = loss + cfg.content_loss * self._loss(content, target, generator)
                    optimiser.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimiser.step()
                score = None if judge is None or epoch % cfg.eval_every else judge(net)
                if time.monotonic() - shown >= EPOCH_LINE_EVERY_S:
                    judged = "" if score is None else f", judged nDCG@10 {score:.4f}"
                    log.info("embedding: epoch %d of %d%s", epoch, max_epochs, judged)
                    shown = time.monotonic()
                if score is not None and stopping.update(score, epoch, net):
                    break
            stopping.restore(net)
        return net, stopping.best_step

    def _loss(
        self, logits: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        if self.config.loss == "bpr":
            return bpr_loss(logits, target, generator)
        return multinomial_loss(logits, target)

    @staticmethod
    def _score_rows(
        net: FoldInNet, history: sp.csr_matrix, users: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        net.eval()
        with torch.no_grad():
            item_in, item_out, bias = net.item_tables()
            scores = net.fold_in(_dense_rows(history, users), item_in) @ item_out.T + bias
        return scores.numpy().astype(np.float32)

    def _export(self, net: FoldInNet) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Keep the token tables; return the item tables (input, output, bias)."""
        net.eval()
        with torch.no_grad():
            item_in, item_out, bias = net.item_tables()
            self._token_in = net.token_in.numpy().astype(np.float32)
            self._token_out = net.token_out.numpy().astype(np.float32)
            self._token_bias = net.token_bias.numpy().astype(np.float32)
            return (
                item_in.numpy().astype(np.float32),
                item_out.numpy().astype(np.float32),
                bias.numpy().astype(np.float32),
            )

    def _from_features(self, features: sp.csr_matrix) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Input vectors, output vectors and biases of items known only by their features."""
        return (
            np.asarray(features @ self._token_in, np.float32),
            np.asarray(features @ self._token_out, np.float32),
            np.asarray(features @ self._token_bias, np.float32),
        )

    # -- serving --------------------------------------------------------------------------

    def user_vector(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """The folded-in user: tanh(normalised history @ input vectors); zeros for no history."""
        if len(indices) == 0:
            return np.zeros(self._item_in.shape[1], np.float32)
        x = strengths / max(float(np.linalg.norm(strengths)), 1e-8)
        return np.tanh(x @ self._item_in[indices]).astype(np.float32)

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        user = self.user_vector(indices, strengths)
        return self._item_out @ user + np.asarray(self._bias)

    # -- approximate retrieval for large catalogues (`retrieval.py`) -----------------------

    def _index_rows(self) -> FloatArray:
        """[output vector | bias] of every item: what a user vector with a 1 appended scores."""
        return np.hstack([np.asarray(self._item_out), np.asarray(self._bias)[:, None]])

    def _query_rows(self, users: FloatArray) -> FloatArray:
        return np.hstack([users, np.ones((len(users), 1), np.float32)])

    def pool_scores(
        self, user: npt.NDArray[np.float32], pool: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        return (self._item_out[pool] @ user + self._bias[pool]).astype(np.float32)

    def pool_score_rows(self, users: FloatArray, pool: npt.NDArray[np.int64]) -> FloatArray:
        flat = np.maximum(pool, 0).ravel()
        vectors = self._item_out[flat].reshape(*pool.shape, -1)
        scores = np.einsum("rpd,rd->rp", vectors, users) + self._bias[flat].reshape(pool.shape)
        return np.asarray(scores, np.float32)

    def item_vectors(self, item_ids: Sequence[str]) -> npt.NDArray[np.float32] | None:
        found = self._items.lookup(item_ids)
        rows = np.zeros((len(item_ids), self.config.dim), np.float32)
        known = found >= 0
        if known.any():
            rows[known] = self._item_out[found[known]]
        return rows

    def user_rows(self, strengths: sp.csr_matrix) -> FloatArray:
        """`user_vector` of many histories (rows of signed strengths)."""
        norms = np.sqrt(np.asarray(strengths.multiply(strengths).sum(axis=1))).ravel()
        scaled = sp.diags(1.0 / np.maximum(norms, 1e-8)) @ strengths
        return np.asarray(np.tanh(scaled @ np.asarray(self._item_in)), np.float32)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        users = self.user_rows(strengths)
        scores = users @ np.asarray(self._item_out).T + np.asarray(self._bias)
        return np.asarray(scores, np.float32)

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        new = [i for i in items if i.item_id not in self._items]
        if not new:
            return
        self._items.extend(i.item_id for i in new)
        item_in, item_out, bias = self._from_features(self._vocab.encode(new))
        self._item_in.append(item_in)
        self._item_out.append(item_out)
        self._bias.append(bias)
        self._rows_added(np.hstack([item_out, bias[:, None]]))

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        save_arrays(
            path,
            item_in=np.asarray(self._item_in),
            item_out=np.asarray(self._item_out),
            bias=np.asarray(self._bias),
            token_in=self._token_in,
            token_out=self._token_out,
            token_bias=self._token_bias,
        )
        meta = {
            "config": asdict(self.config),
            "items": self._items.ids,
            "epochs": self.trained_epochs,
        }
        (path / "model.json").write_text(json.dumps(meta))
        self._vocab.save(path / "vocabulary.json")
        self._save_index(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / "model.json").read_text())
        model = cls(replace(EmbeddingConfig(), **meta["config"]))
        model._items = IdMap(meta["items"])
        model.trained_epochs = int(meta["epochs"])
        model._vocab = FeatureVocabulary.load(path / "vocabulary.json")
        if (path / "arrays.npz").exists():  # written before arrays were saved one per file
            with np.load(path / "arrays.npz") as saved:
                arrays = {name: saved[name] for name in saved.files}
        else:
            names = ("item_in", "item_out", "bias", "token_in", "token_out", "token_bias")
            arrays = {name: load_array(path, name) for name in names}
        model._item_in = GrowingRows(arrays["item_in"])
        model._item_out = GrowingRows(arrays["item_out"])
        model._bias = GrowingRows(arrays["bias"])
        model._token_in = arrays["token_in"]
        model._token_out = arrays["token_out"]
        model._token_bias = arrays["token_bias"]
        model._saved_index(path)
        return model
