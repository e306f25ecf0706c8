"""The sequential recommender: what a user does next, read from their latest items.

A SASRec-style network (`sequence_net.py`) over the last `max_len` items of a history (oldest
first, as the service passes it), trained to predict every next item of users' sequences with
a full softmax (a sampled one above `full_softmax_items` items), early-stopped on each user's
last item, then refit on everything for the chosen number of epochs. A request costs one
forward pass over at most `max_len` items (the last block for the latest position alone) and
an inner-product search of the item table: exact, or over a large catalogue through the ANN
index saved with the model (`retrieval.py`), so an interaction made a second ago changes the
next answer and anonymous sessions are served like anyone else. Items nobody touched in
training, and items added later, get vectors from their content features alone.
"""

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.data import IdMap, IntArray, build_matrix, order_matrix, ordered_rows
from contextiq.ml.early_stop import EarlyStopping
from contextiq.ml.evaluate import histories_by_user
from contextiq.ml.features import FeatureVocabulary
from contextiq.ml.heap import reused_heap
from contextiq.ml.holdout import JUDGED_USERS, sample_users
from contextiq.ml.loss import next_item_loss, sampled_next_item_loss
from contextiq.ml.metrics import ndcg_of_hits
from contextiq.ml.optim import Adam
from contextiq.ml.retrieval import VectorRecommender
from contextiq.ml.rows import FloatArray, GrowingRows, load_array, save_arrays
from contextiq.ml.sampled import to_torch_sparse
from contextiq.ml.sequence_net import SequenceEncoder, SequenceNet

log = logging.getLogger(__name__)

#: Histories scored per forward pass when scoring many at once.
SCORING_BATCH = 256


@dataclass(frozen=True)
class SequenceConfig:
    dim: int = 64
    blocks: int = 2
    heads: int = 1
    max_len: int = 50
    dropout: float = 0.2
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    eval_every: int = 2
    patience: int = 3
    #: Early-stop on each user's last item (else train `max_epochs` on everything).
    validate: bool = True
    #: After early stopping, train on everything as well (see `warm_refit`).
    refit: bool = True
    #: A refit continues the last network for this share of its epochs (0: a new network
    #: trained for all of them).
    warm_refit: float = 0.25
    seed: int = 0
    #: Above this many items, train with shared uniform negatives instead of a full softmax.
    full_softmax_items: int = 20_000
    negatives: int = 4096
    #: Training windows (of `max_len` next-item steps) per epoch at most (a seeded sample).
    max_windows: int = 50_000
    #: On a sampled (large) catalogue, training stops after this many seconds, judged then
    #: if it has a judge: an epoch there costs about a minute, and `contextiq train` at
    #: 100,000 items has ten minutes for every part (docs/evaluation.md, "At catalogue scale").
    sampled_max_seconds: float = 120.0


def windows(sequences: Sequence[IntArray], max_len: int) -> tuple[IntArray, IntArray]:
    """(inputs, next items), left-padded with -1: every sequence cut into `max_len` steps.

    Cut from the end backwards, so each sequence's latest steps form a whole window.
    """
    inputs, targets = [], []
    for seq in sequences:
        for end in range(len(seq), 1, -max_len):
            window = seq[max(0, end - max_len - 1) : end]
            pad = np.full(max_len + 1 - len(window), -1, np.int64)
            inputs.append(np.concatenate([pad, window[:-1]]))
            targets.append(np.concatenate([pad, window[1:]]))
    if not inputs:
        empty = np.zeros((0, max_len), np.int64)
        return empty, empty
    return np.vstack(inputs), np.vstack(targets)


def padded(sequences: Sequence[IntArray], max_len: int) -> IntArray:
    """The last `max_len` items of each sequence, left-padded with -1 to the longest."""
    cut = [s[-max_len:] for s in sequences]
    width = max(1, max(len(s) for s in cut))
    out = np.full((len(cut), width), -1, np.int64)
    for r, seq in enumerate(cut):
        if len(seq):
            out[r, width - len(seq) :] = seq
    return out


class SequenceRecommender(VectorRecommender):
    """Scores histories by their order; `score_matrix` reads rows of `data.order_matrix`."""

    #: Its index is searched four times deeper than the embedding's: a table trained for
    #: minutes (the 120 s budget at 100,000 items) clusters loosely. After one epoch on
    #: ML-100K, 1/16 of the clusters found 0.29 of the exact top 10 and 1/4 0.87; trained,
    #: 1/4 finds 0.997, for about 0.4 ms more a request at 100,000 items (docs/benchmarks.md,
    #: "Serving the sequential part").
    probe_share = 1 / 4

    def __init__(self, config: SequenceConfig | None = None) -> None:
        self.config = config or SequenceConfig()
        self._items = IdMap()
        self._vocab = FeatureVocabulary()
        self._table = GrowingRows(np.zeros((0, self.config.dim), np.float32))
        self._tokens = np.zeros((0, self.config.dim), np.float32)
        cfg = self.config
        self._encoder = SequenceEncoder(cfg.dim, cfg.blocks, cfg.heads, cfg.max_len, cfg.dropout)
        self._encoder.eval()
        #: The last trained network (not saved: a loaded model refits from scratch).
        self._net: SequenceNet | None = None
        self._index_seed = cfg.seed
        self.trained_epochs = 0
        #: nDCG@10 on the users' last items at the chosen epoch (0 when fitted without a holdout).
        self.validation_ndcg = 0.0

    # -- training -------------------------------------------------------------------------

    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Early-stop on each user's last item, then (with `refit`) train on everything.

        The refit continues the early-stopped network on all the data for `warm_refit` of
        its epochs, rather than training a new one for all of them: the same data but the
        held-out items, at a fraction of the cost. Without a holdout (`refit` after `fit`),
        the network of the last fit is likewise continued on the new data when at hand.
        """
        cfg = self.config
        previous = (self._net, self._items, self._vocab)
        sequences, features = self._prepare(interactions, items)
        epochs = cfg.max_epochs
        if cfg.validate:
            inputs = [s[:-1] for s in sequences if len(s) >= 3]
            held = np.array([s[-1] for s in sequences if len(s) >= 3], np.int64)
            chosen = sample_users(np.arange(len(held)), JUDGED_USERS, cfg.seed)
            judged = [inputs[j] for j in chosen]
            train = [s[:-1] if len(s) >= 3 else s for s in sequences]
            net, epochs = self._train(
                train, features, cfg.max_epochs, lambda n: self._judge(n, judged, held[chosen])
            )
            if cfg.refit:
                net, _ = self._train(sequences, features, self._warm_epochs(epochs), None, net)
        elif previous[0] is not None and cfg.warm_refit > 0:
            start = self._carried(features, *previous)
            net, _ = self._train(sequences, features, self._warm_epochs(epochs), None, start)
        else:
            net, _ = self._train(sequences, features, epochs, None)
        self._finish(net, sequences, epochs)
        return self

    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Train on all of `interactions` for the epochs the last fit chose, without a holdout."""
        self.config = replace(self.config, validate=False, max_epochs=max(1, self.trained_epochs))
        return self.fit(interactions, items)

    def _warm_epochs(self, epochs: int) -> int:
        return max(1, round(epochs * self.config.warm_refit)) if self.config.warm_refit else epochs

    def _network(self, features: sp.csr_matrix) -> SequenceNet:
        """A fresh network of the configured shape over these items' features."""
        cfg = self.config
        return SequenceNet(
            features.shape[0],
            to_torch_sparse(features),
            cfg.dim,
            cfg.blocks,
            cfg.heads,
            cfg.max_len,
            cfg.dropout,
        )

    def _carried(
        self,
        features: sp.csr_matrix,
        net: SequenceNet | None,
        items: IdMap,
        vocab: FeatureVocabulary,
    ) -> SequenceNet:
        """A network for the current id map and vocabulary, starting from `net`'s weights."""
        assert net is not None, "a network to carry over"
        carried = self._network(features)
        carried.encoder.load_state_dict(net.encoder.state_dict())
        with torch.no_grad():
            old_rows = items.lookup(self._items.ids)
            kept = np.flatnonzero(old_rows >= 0)
            carried.items.ids[torch.from_numpy(kept)] = net.items.ids[
                torch.from_numpy(old_rows[kept])
            ]
            old_tokens = {t: j for j, t in enumerate(vocab.tokens)}
            for j, token in enumerate(self._vocab.tokens):
                if token in old_tokens:
                    carried.items.tokens[j] = net.items.tokens[old_tokens[token]]
        return carried

    def _prepare(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures]
    ) -> tuple[list[IntArray], sp.csr_matrix]:
        """Set up the id map (as the other families build it) and vocabulary.

        Returns each user's positive items oldest first, and the items' features.
        """
        self._items = build_matrix(interactions, (i.item_id for i in items)).items
        by_id = {i.item_id: i for i in items}
        self._vocab = FeatureVocabulary.fit(items)
        features = self._vocab.encode([by_id.get(i) for i in self._items.ids])
        histories = histories_by_user(interactions).values()
        order = order_matrix(list(histories), self._items)
        return [s for s in ordered_rows(order) if len(s)], features

    def _train(
        self,
        sequences: Sequence[IntArray],
        features: sp.csr_matrix,
        max_epochs: int,
        judge: Callable[[SequenceNet], float] | None,
        start: SequenceNet | None = None,
    ) -> tuple[SequenceNet, int]:
        """Train from scratch, or on from `start`; with a judge, stop early.

        Returns the best state and its epoch; records the judge's best score in
        `validation_ndcg`.
        """
        cfg = self.config
        n_items = features.shape[0]
        inputs, targets = windows(sequences, cfg.max_len)
        with torch.random.fork_rng(), reused_heap():
            torch.manual_seed(cfg.seed + (1 if start is not None else 0))
            generator = torch.Generator().manual_seed(cfg.seed)
            net = start or self._network(features)
            optimiser = Adam(net.parameters(), lr=cfg.learning_rate)
            sampled = n_items > cfg.full_softmax_items
            budget = cfg.sampled_max_seconds if sampled else math.inf
            stopping = EarlyStopping(cfg.patience, max_epochs, budget, "sequence")
            for epoch in range(1, max_epochs + 1):
                net.train()
                order = torch.randperm(len(inputs), generator=generator).numpy()[: cfg.max_windows]
                for first in range(0, len(order), cfg.batch_size):
                    if stopping.out_of_time:
                        break
                    batch = order[first : first + cfg.batch_size]
                    x, y = torch.from_numpy(inputs[batch]), torch.from_numpy(targets[batch])
                    table = net.items()
                    hidden = net(x, table)
                    step = y >= 0
                    if sampled:
                        negatives = torch.randint(0, n_items, (cfg.negatives,), generator=generator)
                        loss = sampled_next_item_loss(hidden[step], y[step], table, negatives)
                    else:
                        loss = next_item_loss(hidden[step], y[step], table)
                    optimiser.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimiser.step()
                if stopping.out_of_time:
                    if judge is None:  # no judge: the epochs trained are the result
                        stopping.best_step = epoch
                        stopping.stopped_for_time(epoch)
                    else:
                        stopping.update(judge(net), epoch, net)
                    break
                if judge is None or epoch % cfg.eval_every:
                    continue
                score = judge(net)
                log.info("sequence: epoch %d, validation nDCG@10 %.4f", epoch, score)
                if stopping.update(score, epoch, net):
                    break
            stopping.restore(net)
        if judge is not None:
            self.validation_ndcg = stopping.best_score
        net.eval()
        return net, stopping.best_step

    def _judge(self, net: SequenceNet, inputs: Sequence[IntArray], held: IntArray) -> float:
        """nDCG@10 of each judged user's last item, ranked among items not in their input."""
        net.eval()
        with torch.no_grad():
            table = net.items()
            gains = []
            for start in range(0, len(inputs), SCORING_BATCH):
                chunk = inputs[start : start + SCORING_BATCH]
                batch = torch.from_numpy(padded(chunk, self.config.max_len))
                scores = net(batch, table)[:, -1] @ table.T
                for r, seq in enumerate(chunk):
                    scores[r, torch.from_numpy(seq)] = float("-inf")
                top = torch.topk(scores, min(10, scores.shape[1]), dim=1).indices.numpy()
                hits = top == held[start : start + SCORING_BATCH, None]
                gains.append(ndcg_of_hits(hits, np.ones(len(chunk), np.int64), 10))
        return float(np.concatenate(gains).mean()) if gains else 0.0

    def _finish(self, net: SequenceNet, sequences: Sequence[IntArray], epochs: int) -> None:
        """Keep the encoder and plain item tables; untouched items get content vectors."""
        self.trained_epochs = epochs
        with torch.no_grad():
            table = net.items().numpy().astype(np.float32)
            content = net.items.content().numpy().astype(np.float32)
            self._tokens = net.items.tokens.numpy().astype(np.float32).copy()
        touched = np.zeros(len(table), bool)
        touched[np.concatenate([np.zeros(0, np.int64), *sequences])] = True
        table[~touched] = content[~touched]
        self._table = GrowingRows(table)
        self._encoder = net.encoder
        self._net = net

    # -- serving --------------------------------------------------------------------------

    def hidden(self, sequences: Sequence[IntArray]) -> FloatArray:
        """Each sequence's "what next" vector (zeros for an empty one)."""
        batch = padded(sequences, self.config.max_len)
        present = batch >= 0
        vectors = self._table[batch.ravel()].reshape(*batch.shape, -1)
        with torch.inference_mode():
            states = self._encoder(
                torch.from_numpy(vectors), torch.from_numpy(present), latest=True
            )
        out: FloatArray = states[:, -1].numpy().astype(np.float32)
        out[~present.any(axis=1)] = 0.0
        return out

    def user_vector(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> FloatArray:
        """The "what next" vector of a history's items in order (oldest first); only positive
        ones count, and no history gives zeros."""
        user: FloatArray = self.hidden([indices[strengths > 0]])[0]
        return user

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Every item's score: the item table times the history's "what next" vector."""
        return self._table @ self.user_vector(indices, strengths)

    def user_rows(self, rows: sp.csr_matrix) -> FloatArray:
        """The "what next" vectors of rows of `data.order_matrix` (the order travels in the
        values), a batch of `SCORING_BATCH` through the encoder at a time."""
        sequences = ordered_rows(rows)
        out = np.zeros((len(sequences), self.config.dim), np.float32)
        for start in range(0, len(sequences), SCORING_BATCH):
            chunk = sequences[start : start + SCORING_BATCH]
            out[start : start + len(chunk)] = self.hidden(chunk)
        return out

    def pool_scores(self, user: FloatArray, pool: npt.NDArray[np.int64]) -> FloatArray:
        return np.asarray(self._table[pool] @ user, np.float32)

    def pool_score_rows(self, users: FloatArray, pool: npt.NDArray[np.int64]) -> FloatArray:
        vectors = self._table[np.maximum(pool, 0).ravel()].reshape(*pool.shape, -1)
        return np.asarray(np.einsum("rpd,rd->rp", vectors, users), np.float32)

    def _index_rows(self) -> FloatArray:
        return np.asarray(self._table)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        """Scores for rows of `data.order_matrix`."""
        return np.asarray(self.user_rows(strengths) @ np.asarray(self._table).T, np.float32)

    def score_histories(self, histories: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
        return self.score_matrix(order_matrix(histories, self._items))

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        new = [i for i in items if i.item_id not in self._items]
        if not new:
            return
        self._items.extend(i.item_id for i in new)
        rows = np.asarray(self._vocab.encode(new) @ self._tokens, np.float32)
        self._table.append(rows)
        self._rows_added(rows)

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        save_arrays(path, table=np.asarray(self._table), tokens=self._tokens)
        torch.save(self._encoder.state_dict(), path / "encoder.pt")
        meta = {"config": asdict(self.config), "items": self._items.ids}
        (path / "model.json").write_text(json.dumps({**meta, "epochs": self.trained_epochs}))
        self._vocab.save(path / "vocabulary.json")
        self._save_index(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / "model.json").read_text())
        model = cls(replace(SequenceConfig(), **meta["config"]))
        model._items = IdMap(meta["items"])
        model.trained_epochs = int(meta["epochs"])
        model._vocab = FeatureVocabulary.load(path / "vocabulary.json")
        model._table = GrowingRows(load_array(path, "table"))
        model._tokens = np.asarray(load_array(path, "tokens"), np.float32)
        model._encoder.load_state_dict(torch.load(path / "encoder.pt", weights_only=True))
        model._encoder.eval()
        model._saved_index(path)
        return model
