"""Validation holdouts carved from training data only (used for early stopping and model choice)."""

import numpy as np
import scipy.sparse as sp


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


def holdout_ndcg(
    scores: np.ndarray, train: sp.csr_matrix, held: sp.csr_matrix, k: int = 10
) -> float:
    """Mean binary nDCG@k over users with held-out items, ranking items not in train."""
    users = np.flatnonzero(np.diff(held.indptr))
    if len(users) == 0:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for u in users:
        row = scores[u].astype(np.float64, copy=True)
        row[train.indices[train.indptr[u] : train.indptr[u + 1]]] = -np.inf
        best = np.argpartition(-row, k)[:k]
        best = best[np.argsort(-row[best], kind="stable")]
        relevant = held.indices[held.indptr[u] : held.indptr[u + 1]]
        hits = np.isin(best, relevant)
        total += float((hits * discounts).sum() / discounts[: min(k, len(relevant))].sum())
    return total / len(users)
