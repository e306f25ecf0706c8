"""Ranking and rating metrics; definitions are written out in docs/evaluation.md."""

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt


def _hits(ranked: Sequence[str], relevant: Collection[str], k: int) -> list[bool]:
    return [item in relevant for item in ranked[:k]]


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    return sum(_hits(ranked, relevant, k)) / k


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    return sum(_hits(ranked, relevant, k)) / len(relevant) if relevant else 0.0


def hit_rate_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    return 1.0 if any(_hits(ranked, relevant, k)) else 0.0


def ndcg_of_hits(
    hits: npt.NDArray[np.bool_], n_relevant: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.float64]:
    """Binary-relevance nDCG@k per row of a hit matrix (row i: which of its top <= k items are
    relevant, best first; it has `n_relevant[i]` >= 1 relevant items in all). The ideal list
    puts min(k, n_relevant) hits first. The one definition: lists and matrices both use it."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    dcg = (hits * discounts[: hits.shape[1]]).sum(axis=1)
    result: npt.NDArray[np.float64] = dcg / ideal[np.minimum(n_relevant, k) - 1]
    return result


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance nDCG of one ranked list; 0 without relevant items."""
    if not relevant:
        return 0.0
    hits = np.array([_hits(ranked, relevant, k)], dtype=bool).reshape(1, -1)
    return float(ndcg_of_hits(hits, np.array([len(relevant)]), k)[0])


def average_precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Mean of precision@i at each hit position i <= k, over min(k, |relevant|)."""
    if not relevant:
        return 0.0
    total, hits = 0.0, 0
    for i, hit in enumerate(_hits(ranked, relevant, k)):
        if hit:
            hits += 1
            total += hits / (i + 1)
    return total / min(k, len(relevant))


#: Up to this many positives, AUC compares each with every negative (one pass each) rather
#: than sorting the negatives: a held-out last event against 100,000 items then costs about
#: 0.2 ms instead of 2 ms, most of `contextiq evaluate`'s time per user at that size.
COMPARED_POSITIVES = 8


def auc(
    scores: npt.NDArray[np.float32],
    positives: npt.NDArray[np.int64],
    negatives: npt.NDArray[np.int64],
) -> float:
    """P(score of a held-out positive > score of a random negative); ties count one half."""
    if len(positives) == 0 or len(negatives) == 0:
        return 0.5
    neg = scores[negatives]
    pos = scores[positives]
    if len(pos) <= COMPARED_POSITIVES:
        below = int(np.count_nonzero(neg[None, :] < pos[:, None]))
        tied = int(np.count_nonzero(neg[None, :] == pos[:, None]))
    else:
        ordered = np.sort(neg)
        left = np.searchsorted(ordered, pos, side="left")
        below = int(left.sum())
        tied = int((np.searchsorted(ordered, pos, side="right") - left).sum())
    return float((below + 0.5 * tied) / (len(pos) * len(neg)))


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float:
    diff = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(predicted: Sequence[float], actual: Sequence[float]) -> float:
    diff = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.mean(np.abs(diff)))
