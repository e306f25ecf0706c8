"""The PyTorch modules of the sequential part: causal self-attention over a user's latest items.

SASRec-style (Kang & McAuley, 2018): item vectors plus learned positions, pre-norm blocks of
causal self-attention and a feed-forward layer; the output at the latest position is the
user's "what next" vector, scored against the same item vectors. Item vectors are an id part
plus a content part (category, tags and title words through `features.FeatureVocabulary`), so
an item nobody touched yet still has a vector. The network is kept apart from the estimator
(`sequence.py`), as spotlight keeps its networks apart from its models: the encoder takes item
vectors, so serving reads them from plain numpy tables.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class ItemVectors(nn.Module):
    """Trainable item vectors: an id table plus features x a token table."""

    def __init__(self, n_items: int, features: torch.Tensor, dim: int) -> None:
        super().__init__()
        self.features = features
        self.ids = nn.Parameter(torch.empty(n_items, dim))
        self.tokens = nn.Parameter(torch.zeros(features.shape[1], dim))
        nn.init.normal_(self.ids, std=1 / math.sqrt(dim))
        if features.shape[1]:
            nn.init.normal_(self.tokens, std=0.01)

    def content(self) -> torch.Tensor:
        """Vectors from features alone (what a brand-new item gets)."""
        if self.tokens.shape[0] == 0:
            return self.tokens.new_zeros(self.features.shape[0], self.tokens.shape[1])
        product: torch.Tensor = torch.sparse.mm(self.features, self.tokens)
        return product

    def forward(self) -> torch.Tensor:
        return self.ids + self.content()


class _Block(nn.Module):
    """Pre-norm causal self-attention and a position-wise feed-forward layer, both residual."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.rate = heads, dropout
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.feed_norm = nn.LayerNorm(dim)
        self.feed = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor | None, latest: bool = False
    ) -> torch.Tensor:
        """`allowed`: batch x 1 x length x length, True where a position may attend (None:
        nothing is padded, plain causal attention). With `latest`, only the last position's
        output (batch x 1 x dim): it still attends to every earlier one, but the attention,
        projection and feed-forward of the others are skipped (what a request needs from
        the last block)."""
        batch, length, dim = x.shape
        q, k, v = (
            part.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)
            for part in self.qkv(self.attention_norm(x)).chunk(3, dim=-1)
        )
        if latest:  # the last query may attend to everything present: no causal mask
            x, q = x[:, -1:], q[:, :, -1:]
            allowed = None if allowed is None else allowed[:, :, -1:]
        rate = self.rate if self.training else 0.0
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=rate, is_causal=allowed is None and not latest
        )
        rows = x.shape[1]
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, rows, dim)))
        out: torch.Tensor = x + self.dropout(self.feed(self.feed_norm(x)))
        return out


class SequenceEncoder(nn.Module):
    """Item vectors of a sequence (oldest first, left-padded) -> one hidden state per position."""

    def __init__(self, dim: int, blocks: int, heads: int, max_len: int, dropout: float) -> None:
        super().__init__()
        self.positions = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        self.blocks = nn.ModuleList(_Block(dim, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, items: torch.Tensor, present: torch.Tensor, latest: bool = False
    ) -> torch.Tensor:
        """`items`: batch x length x dim; `present`: batch x length, False where padded.

        Positions count back from the latest item, so a short history reads like the end of a
        long one. A position attends to itself and to earlier items that are present. Returns
        every position's state, or with `latest` the last one's alone (batch x 1 x dim, the
        same values, at a fraction of the last block's cost).
        """
        length = items.shape[1]
        last = len(self.blocks) - 1
        x = self.dropout(items * math.sqrt(items.shape[2]) + self.positions[-length:])
        if bool(present.all()):  # one request, or a batch of full windows: plain causal
            for j, block in enumerate(self.blocks):
                x = block(x, None, latest and j == last)
            full: torch.Tensor = self.norm(x)
            return full
        x = x * present.unsqueeze(-1)
        earlier = torch.ones(length, length, dtype=torch.bool).tril()
        allowed = (earlier & present.unsqueeze(1)) | torch.eye(length, dtype=torch.bool)
        allowed = allowed.unsqueeze(1)
        for j, block in enumerate(self.blocks):
            kept = present[:, -1:] if latest and j == last else present
            x = block(x, allowed, latest and j == last) * kept.unsqueeze(-1)
        normed: torch.Tensor = self.norm(x)
        return normed


class SequenceNet(nn.Module):
    """Item vectors and the encoder, trained together; serving keeps them apart."""

    def __init__(
        self,
        n_items: int,
        features: torch.Tensor,
        dim: int,
        blocks: int,
        heads: int,
        max_len: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.items = ItemVectors(n_items, features, dim)
        self.encoder = SequenceEncoder(dim, blocks, heads, max_len, dropout)

    def forward(self, sequences: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Hidden states of left-padded item indices (-1: padding), given the item table."""
        present = sequences >= 0
        hidden: torch.Tensor = self.encoder(table[sequences.clamp(min=0)], present)
        return hidden
