"""The sequential part mixes by rank: lifts of its few best unseen items, zero elsewhere."""

import numpy as np
import scipy.sparse as sp

from contextiq.ml.ranked import DEPTH, OFFSET, best_rows, ranked_matrix


def test_only_the_best_unseen_items_get_lifts_falling_with_their_rank() -> None:
    scores = np.arange(30, dtype=np.float32)[None, :].repeat(2, axis=0)  # item 29 is the best
    seen = sp.csr_matrix(([1.0, 1.0], ([0, 1], [29, 5])), shape=scores.shape)
    lifts = ranked_matrix(scores, seen).toarray()
    assert lifts[0, 29] == 0 and lifts[0, 28] == 1.0  # a seen item is passed over
    assert np.count_nonzero(lifts, axis=1).tolist() == [DEPTH, DEPTH]
    assert lifts[1, 28] == (OFFSET + 1) / (2 + OFFSET)
    assert lifts[1, 29 - DEPTH] == 0


def test_a_row_with_fewer_items_than_the_depth_lifts_what_it_has() -> None:
    scores = np.array([[0.5, -np.inf, 0.1]], np.float32)
    found, lifts = best_rows(scores, sp.csr_matrix((1, 3)))
    assert found[0, :2].tolist() == [0, 2] and (found[0, 2:] == -1).all()
    assert lifts[0, 0] == 1.0 and (lifts[0, 2:] == 0).all()
