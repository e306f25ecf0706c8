"""Early stopping shared by the training loops: keep the best weights, stop after `patience`."""

import math
import time

import torch


class EarlyStopping:
    """Tracks a score where higher is better; losses are passed negated.

    With `max_seconds`, it is also time to stop at the first evaluation after that long, so a
    large catalogue's training stays bounded on any machine (the best state so far is kept).
    """

    def __init__(self, patience: int, default_step: int, max_seconds: float = math.inf) -> None:
        self.patience = patience
        self.best_score = float("-inf")
        self.best_step = default_step
        self._best_state: dict[str, torch.Tensor] | None = None
        self._stale = 0
        self._deadline = time.monotonic() + max_seconds

    @property
    def out_of_time(self) -> bool:
        return time.monotonic() > self._deadline

    def update(self, score: float, step: int, net: torch.nn.Module) -> bool:
        """Record one evaluation; True once it is time to stop."""
        if score > self.best_score:
            self.best_score, self.best_step, self._stale = score, step, 0
            self._best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return self.out_of_time
        self._stale += 1
        return self._stale >= self.patience or self.out_of_time

    def restore(self, net: torch.nn.Module) -> None:
        if self._best_state is not None:
            net.load_state_dict(self._best_state)
