"""Biased matrix factorisation in PyTorch: the rating protocol's peer.

With `dim=0` it is the global mean plus user and item biases, the simplest baseline.

r(u, i) = mean + b_u + b_i + p_u . q_i, trained full-batch with per-rating L2 penalties
and early stopping on a holdout carved from the training ratings.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.data import IdMap
from contextiq.ml.early_stop import EarlyStopping
from contextiq.ml.optim import Adam


@dataclass(frozen=True)
class RatingConfig:
    dim: int = 64
    max_steps: int = 600
    learning_rate: float = 0.01
    factor_l2: float = 0.1
    bias_l2: float = 0.01
    validation_fraction: float = 0.1
    eval_every: int = 10
    patience: int = 5
    seed: int = 0


class _Biased(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, mean: float) -> None:
        super().__init__()
        self.mean = mean
        self.user = torch.nn.Parameter(torch.randn(n_users, dim) * 0.01)
        self.item = torch.nn.Parameter(torch.randn(n_items, dim) * 0.01)
        self.user_bias = torch.nn.Parameter(torch.zeros(n_users))
        self.item_bias = torch.nn.Parameter(torch.zeros(n_items))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        embed = torch.nn.functional.embedding
        dot = (embed(users, self.user) * embed(items, self.item)).sum(dim=1)
        biases = embed(users, self.user_bias[:, None]) + embed(items, self.item_bias[:, None])
        return self.mean + biases.squeeze(1) + dot


class BiasedMF:
    def __init__(self, config: RatingConfig | None = None) -> None:
        self.config = config or RatingConfig()
        self.users = IdMap()
        self.items = IdMap()
        self._net: _Biased | None = None
        self.trained_steps = 0
        self._range = (-np.inf, np.inf)

    def fit(self, ratings: Sequence[WeightedInteraction]) -> "BiasedMF":
        self.users = IdMap(r.user_id for r in ratings)
        self.items = IdMap(r.item_id for r in ratings)
        u = torch.tensor([self.users[r.user_id] for r in ratings])
        i = torch.tensor([self.items[r.item_id] for r in ratings])
        y = torch.tensor([r.weight for r in ratings], dtype=torch.float32)
        cfg = self.config
        steps = cfg.max_steps
        if cfg.validation_fraction > 0:
            rng = np.random.default_rng(cfg.seed)
            held = torch.from_numpy(rng.random(len(ratings)) < cfg.validation_fraction)
            _, steps = self._train(u[~held], i[~held], y[~held], (u[held], i[held], y[held]))
        self._net, _ = self._train(u, i, y, None, steps)
        self._range = (float(y.min()), float(y.max()))
        self.trained_steps = steps
        return self

    def _train(
        self,
        u: torch.Tensor,
        i: torch.Tensor,
        y: torch.Tensor,
        held: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
        steps: int | None = None,
    ) -> tuple[_Biased, int]:
        cfg = self.config
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            net = _Biased(len(self.users), len(self.items), cfg.dim, float(y.mean()))
            optimiser = Adam(net.parameters(), lr=cfg.learning_rate)
            stopping = EarlyStopping(cfg.patience, steps or cfg.max_steps)
            for step in range(1, (steps or cfg.max_steps) + 1):
                error = net(u, i) - y
                loss = error.pow(2).mean() + self._penalty(net, u, i)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                if held is None or step % cfg.eval_every:
                    continue
                with torch.no_grad():
                    mse = float((net(held[0], held[1]).clamp(1, 5) - held[2]).pow(2).mean())
                if stopping.update(-mse, step, net):
                    break
            stopping.restore(net)
        return net, stopping.best_step

    def _penalty(self, net: _Biased, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """Per-rating L2, as in SGD matrix factorisation: active users and items pay more."""
        user_counts = torch.bincount(u, minlength=net.user.shape[0]).float() / len(u)
        item_counts = torch.bincount(i, minlength=net.item.shape[0]).float() / len(i)
        factors = (user_counts * net.user.pow(2).sum(1)).sum() + (
            item_counts * net.item.pow(2).sum(1)
        ).sum()
        biases = (user_counts * net.user_bias.pow(2)).sum() + (
            item_counts * net.item_bias.pow(2)
        ).sum()
        return self.config.factor_l2 * factors + self.config.bias_l2 * biases

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Predicted ratings; unknown users/items fall back to the biases that are known."""
        if self._net is None:
            raise RuntimeError("fit the model first")
        net = self._net
        users = self.users.lookup([u for u, _ in pairs])
        items = self.items.lookup([i for _, i in pairs])
        known_u, known_i = users >= 0, items >= 0
        with torch.no_grad():
            user_vecs = net.user.numpy()[users] * known_u[:, None]
            item_vecs = net.item.numpy()[items] * known_i[:, None]
            value = (
                net.mean
                + net.user_bias.numpy()[users] * known_u
                + net.item_bias.numpy()[items] * known_i
                + (user_vecs * item_vecs).sum(axis=1)
            )
        return [float(v) for v in np.clip(value, *self._range)]
