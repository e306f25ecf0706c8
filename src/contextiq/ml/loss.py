"""Training losses over full-catalogue logits."""

import torch


def multinomial_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax over every item, weighted by each target's strength (Mult-DAE style)."""
    return -(torch.log_softmax(logits, dim=1) * targets).sum(dim=1).mean()


def bpr_loss(
    logits: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """One uniformly sampled negative per positive: -log sigmoid(pos - neg)."""
    users, positives = targets.nonzero(as_tuple=True)
    negatives = torch.randint(0, logits.shape[1], positives.shape, generator=generator)
    margin = logits[users, positives] - logits[users, negatives]
    return -torch.nn.functional.logsigmoid(margin).mean()
