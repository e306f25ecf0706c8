"""The default pipeline the API serves (and the one every benchmark measures)."""

from contextiq.ml.base import Recommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender


def default_recommender(seed: int = 0) -> Recommender:
    return EmbeddingRecommender(EmbeddingConfig(seed=seed))
