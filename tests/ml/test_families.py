"""Each model family runs the shared contract on the synthetic world."""

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp

from contextiq.ml.base import Recommender
from contextiq.ml.blend import BlendConfig, BlendRecommender, standard_parts
from contextiq.ml.blend_choice import ChoiceConfig
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.sequence import SequenceConfig, SequenceRecommender
from tests.ml import synthetic
from tests.ml.contract import RecommenderContract


def small_embedding(seed: int) -> EmbeddingConfig:
    return EmbeddingConfig(dim=16, max_epochs=60, eval_every=5, batch_size=32, seed=seed)


def small_sequence(seed: int) -> SequenceConfig:
    return SequenceConfig(
        dim=16,
        blocks=1,
        max_len=10,
        learning_rate=1e-2,
        batch_size=32,
        max_epochs=30,
        eval_every=5,
        patience=2,
        seed=seed,
    )


class TestEmbeddingContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        return EmbeddingRecommender(small_embedding(seed))


class TestBprEmbeddingContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        config = small_embedding(seed)
        return EmbeddingRecommender(
            EmbeddingConfig(**{**config.__dict__, "loss": "bpr", "learning_rate": 2e-2})
        )


class TestEaseContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        return EaseRecommender(EaseConfig(l2_grid=(1.0, 10.0), seed=seed))


class TestSequenceContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        return SequenceRecommender(small_sequence(seed))


class TestBlendContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        parts = standard_parts(
            EaseConfig(l2_grid=(1.0, 10.0), seed=seed),
            small_embedding(seed),
            sequence=small_sequence(seed),
        )
        return BlendRecommender(BlendConfig(parts=parts, choice=ChoiceConfig(seed=seed), seed=seed))


def test_catalogue_items_nobody_touched_rank_by_their_features() -> None:
    catalogue = [*synthetic.catalogue(), synthetic.new_item(1)]
    model = EmbeddingRecommender(small_embedding(0)).fit(synthetic.interactions(), catalogue)
    history = {"item-12": 3.0, "item-13": 1.0}
    ranked = [i for i, _ in model.recommend(history, len(model.item_ids), exclude=history)]
    assert ranked.index("new-1") < 12  # among its own category, not below every touched item


@pytest.mark.parametrize(
    "softmax",
    [
        {"eval_every": 1},  # the full softmax, judged after every epoch
        {"full_softmax_items": 0, "negatives": 8, "sampled_batch_size": 16},  # the sampled path
    ],
    ids=["full", "sampled"],
)
def test_judged_embedding_training_starts_no_epoch_past_its_time_budget(
    softmax: dict[str, int],
) -> None:
    config = replace(small_embedding(0), max_seconds=0.0, **softmax)
    judged: list[float] = []

    def judge(model: EmbeddingRecommender) -> float:
        judged.append(0.5)
        return 0.5

    model = EmbeddingRecommender(config)
    model.fit_judged(synthetic.interactions(), synthetic.catalogue(), judge)
    assert (len(judged), model.trained_epochs) == (1, 1)


def test_the_sequence_part_on_a_sampled_catalogue_stops_at_its_time_budget() -> None:
    config = replace(
        small_sequence(0),
        full_softmax_items=0,  # the sampled path, as on a large catalogue
        negatives=8,
        sampled_max_seconds=0.0,
        refit=False,
    )
    model = SequenceRecommender(config).fit(synthetic.interactions(), synthetic.catalogue())
    assert model.trained_epochs == 1  # stopped in its first epoch, judged there
    history = {"item-0": 1.0, "item-1": 1.0}
    assert len(model.recommend(history, 5, exclude=history)) == 5


def test_ease_on_large_data_chooses_l2_on_its_most_popular_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen_on: list[int] = []
    choose = EaseRecommender._choose_l2

    def counted(
        self: EaseRecommender, history: sp.csr_matrix, columns: npt.NDArray[np.int64]
    ) -> float:
        chosen_on.append(len(columns))
        return choose(self, history, columns)

    monkeypatch.setattr(EaseRecommender, "_choose_l2", counted)
    monkeypatch.setattr("contextiq.ml.ease.LARGE_EVENTS", 1)
    model = EaseRecommender(EaseConfig(l2_grid=(1.0, 10.0), choice_items=10))
    model.fit(synthetic.interactions(), synthetic.catalogue())
    assert chosen_on == [10] and model.l2 in (1.0, 10.0)
    history = {"item-12": 3.0, "item-13": 1.0}
    best = [i for i, _ in model.recommend(history, 5, exclude=history)]
    assert all(synthetic.cluster_of(i) == 1 for i in best)  # every learned item still scores


def test_ease_chooses_l2_by_its_mean_over_the_validation_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fold 0 alone would pick L2 1 by a hair; fold 1 prefers 10 clearly: the mean picks 10."""
    judged = iter([0.30, 0.29, 0.20, 0.25])  # (fold 0: L2 1, L2 10), (fold 1: L2 1, L2 10)
    monkeypatch.setattr("contextiq.ml.ease.judged_ndcg", lambda *_: next(judged))
    config = EaseConfig(l2_grid=(1.0, 10.0), validation_folds=2)
    assert EaseRecommender(config).fit(synthetic.interactions(), synthetic.catalogue()).l2 == 10.0
    judged = iter([0.30, 0.29])
    one_fold = replace(config, validation_folds=1)
    assert EaseRecommender(one_fold).fit(synthetic.interactions(), synthetic.catalogue()).l2 == 1.0
