"""Training the fold-in embedding on a large catalogue: sampled softmax, sparse updates.

A full softmax costs batch x items x dim per step for the logits alone, and Adam then
rewrites every row of both item tables; at 100,000 items one epoch takes many minutes on
two cores. Here each user's softmax runs over their own positives and a shared sample of
uniform negatives (logQ-corrected, so it estimates the full partition), histories are read
as sparse bags (`embedding_bag`), and only the item rows a step touched are updated
(`SparseAdam`). The network, its exported tables and serving are the same as with the full
softmax, so a model trained either way is used the same way.
"""

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
    def content_loss(self) -> float: ...
    @property
    def loss(self) -> str: ...
    @property
    def patience(self) -> int: ...
    @property
    def eval_every(self) -> int: ...
    @property
    def negatives(self) -> int: ...
    @property
    def sampled_batch_size(self) -> int: ...
    @property
    def seed(self) -> int: ...


def _torch_sparse(matrix: sp.csr_matrix) -> torch.Tensor:
    coo = matrix.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape).coalesce()


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
            net = FoldInNet(history.shape[1], _torch_sparse(features), cfg.dim)
            tables = torch.optim.SparseAdam([net.item_in, net.item_out], lr=cfg.learning_rate)
            rest = [net.item_bias, net.token_in, net.token_out, net.token_bias]
            others = Adam(rest, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
            targets = history.maximum(0).tocsr()
            users = np.flatnonzero(np.diff(targets.indptr))
            stopping = EarlyStopping(cfg.patience, max_epochs)
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
                if judge is None or epoch % cfg.eval_every:
                    continue
                if stopping.update(judge(net), epoch, net):
                    break
            stopping.restore(net)
        return net, stopping.best_step

    @staticmethod
    def _bags(rows: sp.csr_matrix, table: torch.Tensor, sparse: bool = False) -> torch.Tensor:
        """Each sparse row's weighted sum of `table` rows (a 1-d table gives one number a row).

        `sparse`: the gradient touches only the rows read (for tables `SparseAdam` updates).
        """
        flat = table.unsqueeze(1) if table.dim() == 1 else table
        bags = F.embedding_bag(
            torch.from_numpy(rows.indices.astype(np.int64)),
            flat,
            torch.from_numpy(rows.indptr[:-1].astype(np.int64)),
            mode="sum",
            sparse=sparse,
            per_sample_weights=torch.from_numpy(rows.data.astype(np.float32)),
        )
        return bags.squeeze(1) if table.dim() == 1 else bags

    def _content(self, items: npt.NDArray[np.int64], table: torch.Tensor) -> torch.Tensor:
        """The feature part of `items`' rows of an item table (zeros without features)."""
        if self.features.shape[1] == 0:
            return table.new_zeros(len(items), *table.shape[1:])
        return self._bags(self.features[items], table)

    def _users(
        self, net: FoldInNet, rows: sp.csr_matrix, generator: torch.Generator
    ) -> torch.Tensor:
        """Folded-in users from sparse rows, with input dropout on the stored entries."""
        rows = rows.copy()
        if self.config.dropout > 0:
            rows.data *= (torch.rand(rows.nnz, generator=generator) >= self.config.dropout).numpy()
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
        scaled = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-8)) @ rows, dtype=np.float32)
        bags = self._bags(scaled, net.item_in, sparse=True)
        if self.features.shape[1]:
            bags = bags + self._bags(sp.csr_matrix(scaled @ self.features), net.token_in)
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
        positives = targets.indices.astype(np.int64)
        negatives = torch.randint(0, n_items, (cfg.negatives,), generator=generator).numpy()
        pos_out = F.embedding(torch.from_numpy(positives), net.item_out, sparse=True)
        neg_out = F.embedding(torch.from_numpy(negatives), net.item_out, sparse=True)
        pos_bias = net.item_bias[positives]
        neg_bias = net.item_bias[negatives]
        shift = math.log(n_items / cfg.negatives)
        weights = torch.from_numpy(targets.data.astype(np.float32))
        content_q = (
            self._content(positives, net.token_out),
            self._content(negatives, net.token_out),
        )
        content_b = (
            self._content(positives, net.token_bias),
            self._content(negatives, net.token_bias),
        )
        loss = self._part(
            users,
            owner,
            counts,
            weights,
            (pos_out + content_q[0], pos_bias + content_b[0]),
            (neg_out + content_q[1], neg_bias + content_b[1]),
            shift,
            generator,
        )
        if cfg.content_loss and self.features.shape[1]:
            content = self._part(
                users,
                owner,
                counts,
                weights,
                (content_q[0], content_b[0]),
                (content_q[1], content_b[1]),
                shift,
                generator,
            )
            loss = loss + cfg.content_loss * content
        return loss

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
