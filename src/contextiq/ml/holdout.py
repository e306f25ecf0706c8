"""Validation holdouts carved from training data only (used for early stopping and model choice)."""

import numpy as np
import scipy.sparse as sp
import torch

from contextiq.ml.metrics import ndcg_of_hits


def holdout_positives(
    matrix: sp.csr_matrix, fraction: float, seed: int, min_positives: int = 3
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per user, move a seeded random `fraction` of positive entries into a holdout matrix.

    Users with fewer than `min_positives` positives keep everything in train.
    """
    rng = np.random.default_rng(seed)
    matrix = sp.csr_matrix(matrix)
    keep = np.ones(matrix.nnz, dtype=bool)
    for u in range(matrix.shape[0]):
        start, end = matrix.indptr[u], matrix.indptr[u + 1]
        positive = np.flatnonzero(matrix.data[start:end] > 0) + start
        n_out = round(len(positive) * fraction)
        if len(positive) >= min_positives and n_out > 0:
            keep[rng.choice(positive, n_out, replace=False)] = False
    coo = matrix.tocoo()
    shape = matrix.shape
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=shape)
    held = sp.csr_matrix((coo.data[~keep], (coo.row[~keep], coo.col[~keep])), shape=shape)
    return train, held


def ranked_unseen(
    scores: np.ndarray, train: sp.csr_matrix, k: int = 10, chunk: int = 512
) -> np.ndarray:
    """Per row, the k best-scoring columns not in `train`, best first.

    Vectorised over chunks of rows: model selection ranks thousands of users dozens of times,
    and torch's top-k is several times faster than a numpy partition here.
    """
    out = np.zeros((scores.shape[0], k), np.int64)
    for start in range(0, scores.shape[0], chunk):
        block = scores[start : start + chunk].astype(np.float32, copy=True)
        seen = train[start : start + chunk].tocoo()
        block[seen.row, seen.col] = -np.inf
        out[start : start + chunk] = torch.topk(torch.from_numpy(block), k, dim=1).indices.numpy()
    return out


def ranking_ndcg(ranked: np.ndarray, held: sp.csr_matrix) -> float:
    """Mean binary nDCG of per-row rankings (from `ranked_unseen`) over rows with held items."""
    entries = held.tocoo()
    rows, cols = entries.row[entries.data != 0], entries.col[entries.data != 0]
    counts = np.bincount(rows, minlength=held.shape[0])
    users = np.flatnonzero(counts)
    if len(users) == 0:
        return 0.0
    width = held.shape[1]
    relevant = rows.astype(np.int64) * width + cols  # one key per (row, item) held out
    hits = np.isin(users[:, None] * width + ranked[users], relevant)
    return float(ndcg_of_hits(hits, counts[users], ranked.shape[1]).mean())


def holdout_ndcg(
    scores: np.ndarray, train: sp.csr_matrix, held: sp.csr_matrix, k: int = 10
) -> float:
    """Mean binary nDCG@k over users with held-out items, ranking items not in train."""
    users = np.flatnonzero(np.diff(held.indptr))
    if len(users) == 0:
        return 0.0
    return ranking_ndcg(ranked_unseen(scores[users], train[users], k), held[users])
