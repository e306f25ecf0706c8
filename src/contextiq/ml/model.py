"""The PyTorch module: users folded in from their items, scored by dot product.

A user vector is tanh(normalised history @ P), so it exists for anyone with a
history, including users created a second ago. Items have an output embedding
Q and a bias; both P and Q are an id part plus a content-feature part, so an
item with no interactions still gets a vector from its features alone.
"""

import torch
from torch import nn


class FoldInNet(nn.Module):
    def __init__(self, n_items: int, features: torch.Tensor, dim: int) -> None:
        super().__init__()
        n_tokens = features.shape[1]
        self.features = features
        self.item_in = nn.Parameter(torch.empty(n_items, dim))
        self.item_out = nn.Parameter(torch.empty(n_items, dim))
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.token_in = nn.Parameter(torch.zeros(n_tokens, dim))
        self.token_out = nn.Parameter(torch.zeros(n_tokens, dim))
        self.token_bias = nn.Parameter(torch.zeros(n_tokens))
        nn.init.xavier_uniform_(self.item_in)
        nn.init.xavier_uniform_(self.item_out)
        if n_tokens:
            nn.init.normal_(self.token_in, std=0.01)
            nn.init.normal_(self.token_out, std=0.01)

    def _from_features(self, table: torch.Tensor) -> torch.Tensor:
        if table.shape[0] == 0:
            return table.new_zeros(self.features.shape[0], *table.shape[1:])
        if table.dim() == 1:
            column: torch.Tensor = torch.sparse.mm(self.features, table.unsqueeze(1))
            return column.squeeze(1)
        product: torch.Tensor = torch.sparse.mm(self.features, table)
        return product

    def content_out(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Output vectors and biases from features only (what a brand-new item gets)."""
        return self._from_features(self.token_out), self._from_features(self.token_bias)

    def item_tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Effective input vectors, output vectors and biases: id part + feature part."""
        content_q, content_b = self.content_out()
        return (
            self.item_in + self._from_features(self.token_in),
            self.item_out + content_q,
            self.item_bias + content_b,
        )

    @staticmethod
    def fold_in(history: torch.Tensor, item_in: torch.Tensor) -> torch.Tensor:
        """User vectors from dense (users x items) signed strengths."""
        norm = history.norm(dim=1, keepdim=True).clamp_min(1e-8)
        return torch.tanh((history / norm) @ item_in)

    def forward(self, history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """User vectors and their logits over all items."""
        item_in, item_out, bias = self.item_tables()
        users = self.fold_in(history, item_in)
        return users, users @ item_out.T + bias

    def content_logits(self, users: torch.Tensor) -> torch.Tensor:
        """Logits with content-only item vectors: what the model would say about new items."""
        content_q, content_b = self.content_out()
        return users @ content_q.T + content_b
