import math

import numpy as np
import pytest
import scipy.sparse as sp

from contextiq.ml.holdout import holdout_ndcg
from contextiq.ml.metrics import (
    COMPARED_POSITIVES,
    auc,
    average_precision_at_k,
    hit_rate_at_k,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"a", "c", "x"}


def test_precision_counts_hits_over_k() -> None:
    assert precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)


def test_recall_counts_hits_over_all_relevant() -> None:
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, set(), 5) == 0.0


def test_hit_rate_is_one_when_any_relevant_item_is_in_top_k() -> None:
    assert hit_rate_at_k(RANKED, RELEVANT, 1) == 1.0
    assert hit_rate_at_k(["b", "d"], RELEVANT, 2) == 0.0


def test_ndcg_by_hand() -> None:
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "c"], {"a", "c"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, set(), 5) == 0.0


def test_ndcg_ideal_is_capped_at_k() -> None:
    # Two relevant items but k = 1: a hit at rank 1 is perfect.
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 1) == pytest.approx(1.0)


def test_average_precision_by_hand() -> None:
    # hits at ranks 1 and 3: (1/1 + 2/3) / min(5, 3)
    assert average_precision_at_k(RANKED, RELEVANT, 5) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision_at_k(["b", "a"], {"a"}, 2) == pytest.approx(0.5)


def test_auc_by_hand_with_ties() -> None:
    scores = np.array([0.9, 0.5, 0.5, 0.1], np.float32)
    positives = np.array([1])
    negatives = np.array([0, 2, 3])
    # positive 0.5 beats 0.1, ties 0.5, loses to 0.9: (1 + 0.5) / 3
    assert auc(scores, positives, negatives) == pytest.approx(0.5)
    assert auc(scores, np.array([0]), np.array([1, 2, 3])) == pytest.approx(1.0)
    assert auc(scores, np.array([], np.int64), negatives) == 0.5


@pytest.mark.parametrize("n_positives", [1, COMPARED_POSITIVES, COMPARED_POSITIVES + 1, 40])
def test_auc_counts_every_pair_whether_it_compares_or_sorts(n_positives: int) -> None:
    rng = np.random.default_rng(n_positives)
    scores = rng.integers(0, 20, 300).astype(np.float32)  # many ties
    positives = rng.choice(300, n_positives, replace=False)
    negatives = np.setdiff1d(np.arange(300), positives)
    pairs = scores[positives][:, None] - scores[negatives][None, :]
    expected = ((pairs > 0).sum() + 0.5 * (pairs == 0).sum()) / pairs.size
    assert auc(scores, positives, negatives) == pytest.approx(expected)


def test_rmse_and_mae_by_hand() -> None:
    assert rmse([3.0, 4.0], [1.0, 4.0]) == pytest.approx(math.sqrt(2.0))
    assert mae([3.0, 4.0, 5.0], [1.0, 4.0, 6.0]) == pytest.approx(1.0)


def test_holdout_ndcg_ranks_unseen_items_and_skips_users_without_holdout() -> None:
    scores = np.array([[9, 1, 5, 3], [4, 3, 2, 1], [1, 2, 3, 4]], np.float32)
    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], np.float32))
    held = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 1, 0, 1], [0, 0, 0, 0]], np.float32))
    # user 0: item 2 first once item 0 (train) is out -> 1.0; user 1: one hit at rank 2 of 2.
    second = 1 / math.log2(3)
    expected = (1.0 + second / (1 + second)) / 2
    assert holdout_ndcg(scores, train, held, k=2) == pytest.approx(expected)
