"""Training the fold-in embedding on a large catalogue: sampled softmax, sparse updates.

A full softmax costs batch x items x dim per step for the logits alone, and Adam then
rewrites every row of both item tables; at 100,000 items one epoch takes many minutes on
two cores. Here each user's softmax runs over their own positives and a shared sample of
uniform negatives (logQ-corrected, so it estimates the full partition), histories are read
as sparse bags (`embedding_bag`), and only the item rows a step touched are updated
(`SparseAdam`). The network, its exported tables and serving are the same as with the full
softmax, so a model trained either way is used the same way.

Only the item tables are trained here (content features in the loss cost more than the rest
of a step); the feature tokens' vectors are then set to the mean vector of the items that
carry them (`token_centroids`), which is what items nobody in the training sample touched,
and new items, are scored from.
"""

import logging
import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from contextiq.ml.early_stop import EarlyStopping
from contextiq.ml.model import FoldInNet
from contextiq.ml.optim import Adam

log = logging.getLogger(__name__)


class SampledConfig(Protocol):
    """The `EmbeddingConfig` fields this trainer reads."""

    @property
    def dim(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def weight_decay(self) -> float: ...
    @property
    def dropout(self) -> float: ...
    @property
    def loss(self) -> str: ...
    @property
    def patience(self) -> int: ...
    @property
    def sampled_eval_every(self) -> int: ...
    @property
    def negatives(self) -> int: ...
    @property
    def sampled_batch_size(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def max_seconds(self) -> float: ...


def to_torch_sparse(matrix: sp.csr_matrix) -> torch.Tensor:
    coo = matrix.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=True).coalesce()


@torch.no_grad()
def token_centroids(net: FoldInNet, features: sp.csr_matrix, history: sp.csr_matrix) -> None:
    """Each feature token's vectors and bias: the feature-weighted mean over touched items.

    The net adds features x token tables to every item's own rows, so those rows give the
    content part back: touched items score exactly as trained.
    """
    touched = history.getnnz(axis=0) > 0
    known = sp.csr_matrix(features.multiply(touched[:, None].astype(np.float32)))
    totals = np.asarray(known.sum(axis=0)).ravel()
    weights = sp.diags(1.0 / np.maximum(totals, 1e-8)) @ known.T.tocsr()
    for table, items in (
        (net.token_in, net.item_in),
        (net.token_out, net.item_out),
        (net.token_bias, net.item_bias),
    ):
        table.copy_(torch.from_numpy(np.asarray(weights @ items.numpy(), np.float32)))
        items.sub_(torch.from_numpy(np.asarray(features @ table.numpy(), np.float32)))


class SampledSoftmaxTrainer:
    def __init__(self, config: SampledConfig) -> None:
        self.config = config

    def train(
        self,
        history: sp.csr_matrix,
        features: sp.csr_matrix,
        max_epochs: int,
        judge: Callable[[FoldInNet], float] | None,
    ) -> tuple[FoldInNet, int]:
        """Train from scratch; with a judge, stop early and return the best state and epoch."""
        cfg = self.config
        self.features = sp.csr_matrix(features, dtype=np.float32)
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            generator = torch.Generator().manual_seed(cfg.seed)
            net = FoldInNet(history.shape[1], to_torch_sparse(features), cfg.dim)
            tables = torch.optim.SparseAdam([net.item_in, net.item_out], lr=cfg.learning_rate)
            others = Adam([net.item_bias], lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
            targets = history.maximum(0).tocsr()
            users = np.flatnonzero(np.diff(targets.indptr))
            stopping = EarlyStopping(cfg.patience, max_epochs, cfg.max_seconds, "sampled softmax")
            for epoch in range(1, max_epochs + 1):
                net.train()
                order = users[torch.randperm(len(users), generator=generator).numpy()]
                for start in range(0, len(order), cfg.sampled_batch_size):
                    batch = order[start : start + cfg.sampled_batch_size]
                    loss = self._loss(net, history[batch], targets[batch], generator)
                    tables.zero_grad()
                    others.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    tables.step()  # type: ignore[no-untyped-call]
                    others.step()
                if judge is None or epoch % cfg.sampled_eval_every:
                    log.info("sampled softmax: epoch %d of %d", epoch, max_epochs)
                    continue
                score = judge(net)
                log.info("sampled softmax: epoch %d, judged nDCG@10 %.4f", epoch, score)
                if stopping.update(score, epoch, net):
                    break
            stopping.restore(net)
        token_centroids(net, self.features, history)
        return net, stopping.best_step

    def _users(
        self, net: FoldInNet, rows: sp.csr_matrix, generator: torch.Generator
    ) -> torch.Tensor:
        """Folded-in users from sparse rows (a weighted bag of input vectors), with dropout."""
        rows = rows.copy()
        if self.config.dropout > 0:
            rows.data *= (torch.rand(rows.nnz, generator=generator) >= self.config.dropout).numpy()
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
        scaled = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-8)) @ rows, dtype=np.float32)
        bags = F.embedding_bag(
            torch.from_numpy(scaled.indices.astype(np.int64)),
            net.item_in,
            torch.from_numpy(scaled.indptr[:-1].astype(np.int64)),
            mode="sum",
            sparse=True,
            per_sample_weights=torch.from_numpy(scaled.data),
        )
        return torch.tanh(bags)

    def _loss(
        self,
        net: FoldInNet,
        rows: sp.csr_matrix,
        targets: sp.csr_matrix,
        generator: torch.Generator,
    ) -> torch.Tensor:
        cfg = self.config
        n_items = net.item_in.shape[0]
        users = self._users(net, rows, generator)
        counts = np.diff(targets.indptr)
        owner = torch.from_numpy(np.repeat(np.arange(len(counts)), counts))
        positives = torch.from_numpy(targets.indices.astype(np.int64))
        negatives = torch.randint(0, n_items, (cfg.negatives,), generator=generator)
        positive = (F.embedding(positives, net.item_out, sparse=True), net.item_bias[positives])
        negative = (F.embedding(negatives, net.item_out, sparse=True), net.item_bias[negatives])
        weights = torch.from_numpy(targets.data.astype(np.float32))
        shift = math.log(n_items / cfg.negatives)
        return self._part(users, owner, counts, weights, positive, negative, shift, generator)

    def _part(
        self,
        users: torch.Tensor,
        owner: torch.Tensor,
        counts: npt.NDArray[np.int64],
        weights: torch.Tensor,
        positive: tuple[torch.Tensor, torch.Tensor],
        negative: tuple[torch.Tensor, torch.Tensor],
        shift: float,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Each user's positives against the shared negatives: softmax, or BPR on one of them."""
        pos = (users[owner] * positive[0]).sum(dim=1) + positive[1]
        neg = users @ negative[0].T + negative[1]
        if self.config.loss == "bpr":
            pick = torch.randint(0, neg.shape[1], (len(pos),), generator=generator)
            return -F.logsigmoid(pos - neg[owner, pick]).mean()
        width = int(counts.max()) if len(counts) else 0
        column = torch.from_numpy(
            np.arange(len(pos)) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        padded = pos.new_full((len(counts), width), -math.inf).index_put((owner, column), pos)
        partition = torch.logsumexp(torch.cat([padded, neg + shift], dim=1), dim=1)
        return -((pos - partition[owner]) * weights).sum() / len(counts)
