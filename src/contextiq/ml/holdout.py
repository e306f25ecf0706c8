"""Validation holdouts carved from training data only (used for early stopping and model choice).

Judging a model means ranking every item for every judged user, so at catalogue scale
(100,000 items) it is done on a seeded sample of at most `max_users` users, a few rows at
a time (`row_batches`), never as one dense user x item matrix.
"""

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from contextiq.ml.metrics import ndcg_of_hits

#: Users a validation judges at most (every user of the public benchmark datasets).
JUDGED_USERS = 2000
#: Bytes one batch of dense score rows may take while judging.
JUDGING_BYTES = 256 * 2**20


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


def sample_users(users: npt.NDArray[np.int64], limit: int, seed: int) -> npt.NDArray[np.int64]:
    """At most `limit` of `users` (seeded, in their given order); all of them when few."""
    if limit <= 0 or len(users) <= limit:
        return users
    chosen = np.random.default_rng(seed).choice(len(users), limit, replace=False)
    return users[np.sort(chosen)]


def row_batches(n_rows: int, n_items: int, copies: int = 1) -> Iterator[slice]:
    """Slices of rows such that `copies` dense float32 score rows per row fit `JUDGING_BYTES`."""
    size = max(1, JUDGING_BYTES // max(1, 4 * n_items * copies))
    for start in range(0, n_rows, size):
        yield slice(start, min(start + size, n_rows))


def ranked_unseen(
    scores: np.ndarray, train: sp.csr_matrix, k: int = 10, chunk: int = 512
) -> np.ndarray:
    """Per row, the k best-scoring columns not in `train`, best first.

    Vectorised over chunks of rows: model selection ranks thousands of users dozens of times,
    and torch's top-k is several times faster than a numpy partition here. A catalogue of
    fewer than k items ranks all of them (torch refuses a k past the row).
    """
    k = min(k, scores.shape[1])
    out = np.zeros((scores.shape[0], k), np.int64)
    for start in range(0, scores.shape[0], chunk):
        block = scores[start : start + chunk].astype(np.float32, copy=True)
        seen = train[start : start + chunk].tocoo()
        block[seen.row, seen.col] = -np.inf
        out[start : start + chunk] = torch.topk(torch.from_numpy(block), k, dim=1).indices.numpy()
    return out


def ranking_gains(ranked: np.ndarray, held: sp.csr_matrix) -> npt.NDArray[np.float64]:
    """Binary nDCG of each per-row ranking (from `ranked_unseen`), for rows with held items."""
    entries = held.tocoo()
    rows, cols = entries.row[entries.data != 0], entries.col[entries.data != 0]
    counts = np.bincount(rows, minlength=held.shape[0])
    users = np.flatnonzero(counts)
    if len(users) == 0:
        return np.zeros(0, np.float64)
    width = held.shape[1]
    relevant = rows.astype(np.int64) * width + cols  # one key per (row, item) held out
    hits = np.isin(users[:, None] * width + ranked[users], relevant)
    return ndcg_of_hits(hits, counts[users], ranked.shape[1])


def mean_gain(gains: list[npt.NDArray[np.float64]]) -> float:
    """The mean nDCG over batches of `ranking_gains` (0 when no row had held items)."""
    joined = np.concatenate([np.zeros(0, np.float64), *gains])
    return float(joined.mean()) if len(joined) else 0.0


def ranking_ndcg(ranked: np.ndarray, held: sp.csr_matrix) -> float:
    """Mean binary nDCG of per-row rankings (from `ranked_unseen`) over rows with held items."""
    return mean_gain([ranking_gains(ranked, held)])


def holdout_ndcg(
    scores: np.ndarray, train: sp.csr_matrix, held: sp.csr_matrix, k: int = 10
) -> float:
    """Mean binary nDCG@k over users with held-out items, ranking items not in train."""
    users = np.flatnonzero(np.diff(held.indptr))
    if len(users) == 0:
        return 0.0
    return ranking_ndcg(ranked_unseen(scores[users], train[users], k), held[users])


def judged_ndcg(
    score_rows: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]],
    train: sp.csr_matrix,
    held: sp.csr_matrix,
    seed: int,
    max_users: int = JUDGED_USERS,
    k: int = 10,
) -> float:
    """`holdout_ndcg` of the scores `score_rows(users)` gives, on sampled users, in batches."""
    users = sample_users(np.flatnonzero(np.diff(held.indptr)), max_users, seed)
    gains = []
    for rows in row_batches(len(users), train.shape[1], copies=2):
        batch = users[rows]
        ranked = ranked_unseen(score_rows(batch), train[batch], k)
        gains.append(ranking_gains(ranked, held[batch]))
    return mean_gain(gains)
