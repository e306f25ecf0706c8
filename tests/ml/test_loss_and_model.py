"""Losses and the PyTorch module on tiny problems whose answer is known."""

import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.loss import bpr_loss, multinomial_loss
from contextiq.ml.model import FoldInNet
from contextiq.ml.sampled import to_torch_sparse
from tests.ml import synthetic
from tests.ml.test_families import small_embedding


def test_multinomial_loss_by_hand() -> None:
    logits = torch.tensor([[0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0]])
    assert float(multinomial_loss(logits, targets)) == pytest.approx(math.log(2))


def test_bpr_loss_by_hand() -> None:
    # One positive (item 0); every sampled negative has a logit 2 lower, or is item 0 itself.
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0]])
    generator = torch.Generator().manual_seed(0)
    value = float(bpr_loss(logits, targets, generator))
    assert value in (pytest.approx(-math.log(1 / (1 + math.exp(-2)))), pytest.approx(math.log(2)))


def test_fold_in_is_tanh_of_normalised_history_times_item_vectors() -> None:
    items = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    users = FoldInNet.fold_in(torch.tensor([[3.0, 4.0]]), items)
    expected = torch.tanh(torch.tensor([[0.6, 1.6]]))
    torch.testing.assert_close(users, expected)


def test_new_items_get_their_vectors_from_features_only() -> None:
    features = to_torch_sparse(sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)))
    net = FoldInNet(2, features, dim=3)
    content_q, content_b = net.content_out()
    torch.testing.assert_close(content_q, net.token_out)
    torch.testing.assert_close(content_b, net.token_bias)


def test_training_recovers_the_clusters() -> None:
    """Each user likes one category; the model must rank that category's unseen items first."""
    model = EmbeddingRecommender(
        EmbeddingConfig(dim=16, max_epochs=60, batch_size=16, validation_fraction=0.0)
    )
    model.fit(synthetic.interactions(), synthetic.catalogue())
    for cluster in range(synthetic.CLUSTERS):
        first = cluster * synthetic.ITEMS_PER_CLUSTER
        history = {f"item-{first + j}": 1.0 for j in range(3)}
        top = model.recommend(history, synthetic.ITEMS_PER_CLUSTER - 3, exclude=history)
        assert {synthetic.cluster_of(i) for i, _ in top} == {cluster}


def test_dislikes_push_similar_items_down() -> None:
    model = EmbeddingRecommender(
        EmbeddingConfig(dim=16, max_epochs=60, batch_size=16, validation_fraction=0.0)
    )
    model.fit(synthetic.interactions(), synthetic.catalogue())
    liked = model.scores({"item-0": 1.0})
    disliked = model.scores({"item-0": -4.0})
    same_cluster = [model.item_ids.index(f"item-{j}") for j in range(1, 12)]
    assert liked[same_cluster].mean() > disliked[same_cluster].mean()


def test_a_judge_decides_when_the_embedding_stops() -> None:
    """`fit_judged` keeps the epoch its judge liked best, and stops `patience` checks later."""
    config = replace(small_embedding(0), max_epochs=60, eval_every=5, patience=2)
    verdicts = iter([0.1, 0.5, 0.2, 0.1, 0.0])
    heard: list[int] = []

    def judge(model: EmbeddingRecommender) -> float:
        heard.append(len(heard))
        return next(verdicts)

    events, catalogue = synthetic.interactions(), synthetic.catalogue()
    judged = EmbeddingRecommender(config).fit_judged(events, catalogue, judge)
    assert judged.trained_epochs == 10
    assert len(heard) == 4
    ten = replace(config, max_epochs=10, validation_fraction=0.0)
    plain = EmbeddingRecommender(ten).fit(events, catalogue)
    history = {"item-0": 1.0, "item-1": 3.0}
    np.testing.assert_array_equal(judged.scores(history), plain.scores(history))
