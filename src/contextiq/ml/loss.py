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


def next_item_loss(
    hidden: torch.Tensor, targets: torch.Tensor, items: torch.Tensor
) -> torch.Tensor:
    """Full softmax over every item for each (hidden state, next item) pair."""
    return torch.nn.functional.cross_entropy(hidden @ items.T, targets)


def sampled_next_item_loss(
    hidden: torch.Tensor, targets: torch.Tensor, items: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """Softmax of each next item against shared uniform `negatives` (large catalogues).

    A negative that is the pair's own target is masked; with uniform sampling no log-q
    correction is needed (it is the same for every item).
    """
    positive = (hidden * items[targets]).sum(dim=1, keepdim=True)
    negative = hidden @ items[negatives].T
    negative = negative.masked_fill(negatives.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
    logits = torch.cat([positive, negative], dim=1)
    return -torch.log_softmax(logits, dim=1)[:, 0].mean()
