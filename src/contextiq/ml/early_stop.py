"""Early stopping shared by the training loops: keep the best weights, stop after `patience`."""

import logging
import math
import time

import torch

log = logging.getLogger(__name__)


class EarlyStopping:
    """Tracks a score where higher is better; losses are passed negated.

    With `max_seconds`, it is also time to stop at the first evaluation after that long, so a
    large catalogue's training stays bounded on any machine (the best state so far is kept);
    that stop is logged under `name`.
    """

    def __init__(
        self,
        patience: int,
        default_step: int,
        max_seconds: float = math.inf,
        name: str = "training",
    ) -> None:
        self.patience, self.max_seconds, self.name = patience, max_seconds, name
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
        else:
            self._stale += 1
        if self.out_of_time:
            self.stopped_for_time(step)
            return True
        return self._stale >= self.patience

    def stopped_for_time(self, step: int) -> None:
        log.info("%s: stopping after %.0fs (epoch %d)", self.name, self.max_seconds, step)

    def restore(self, net: torch.nn.Module) -> None:
        if self._best_state is not None:
            net.load_state_dict(self._best_state)
