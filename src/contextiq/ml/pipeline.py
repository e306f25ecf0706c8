"""The default pipeline the API serves (and the one every benchmark measures)."""

from contextiq.ml.base import Recommender
from contextiq.ml.blend import BlendConfig, BlendRecommender
from contextiq.ml.ease import EaseConfig
from contextiq.ml.embedding import EmbeddingConfig


def default_recommender(seed: int = 0) -> Recommender:
    """PyTorch embedding model blended with EASE; the mix is chosen on validation at fit."""
    return BlendRecommender(
        BlendConfig(embedding=EmbeddingConfig(seed=seed), ease=EaseConfig(seed=seed), seed=seed)
    )
