"""Each model family runs the shared contract on the synthetic world."""

from contextiq.ml.base import Recommender
from contextiq.ml.blend import BlendConfig, BlendRecommender
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from tests.ml.contract import RecommenderContract


def small_embedding(seed: int) -> EmbeddingConfig:
    return EmbeddingConfig(dim=16, max_epochs=60, eval_every=5, batch_size=32, seed=seed)


class TestEmbeddingContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        return EmbeddingRecommender(small_embedding(seed))


class TestBprEmbeddingContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        config = small_embedding(seed)
        return EmbeddingRecommender(
            EmbeddingConfig(**{**config.__dict__, "loss": "bpr", "learning_rate": 1e-2})
        )


class TestEaseContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        return EaseRecommender(EaseConfig(l2_grid=(1.0, 10.0), seed=seed))


class TestBlendContract(RecommenderContract):
    def make(self, seed: int = 0) -> Recommender:
        return BlendRecommender(
            BlendConfig(
                embedding=small_embedding(seed),
                ease=EaseConfig(l2_grid=(1.0, 10.0), seed=seed),
                seed=seed,
            )
        )
