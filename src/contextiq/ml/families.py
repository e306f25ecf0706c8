"""Model families by name, as RecBole's `get_model` picks them: what `CONTEXTIQ_MODEL` names.

Each entry makes an unfitted model from a seed; "blend" (EASE, the embedding and item
transitions mixed on validation) is the default the API serves and the benchmarks measure.
"""

from collections.abc import Callable, Mapping

from contextiq.config import DEFAULT_MODEL
from contextiq.ml.base import Recommender
from contextiq.ml.blend import BlendConfig, BlendRecommender, PartSpec, standard_parts
from contextiq.ml.blend_choice import ChoiceConfig
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.sequence import SequenceConfig, SequenceRecommender

ModelFactory = Callable[[int], Recommender]


def blend(seed: int = 0) -> Recommender:
    """PyTorch embedding blended with EASE (and item transitions on timed data)."""
    parts = standard_parts(EaseConfig(seed=seed), EmbeddingConfig(seed=seed))
    return BlendRecommender(BlendConfig(parts=parts, choice=ChoiceConfig(seed=seed), seed=seed))


def _with_sequence(seed: int) -> tuple[PartSpec, ...]:
    return standard_parts(
        EaseConfig(seed=seed), EmbeddingConfig(seed=seed), sequence=SequenceConfig(seed=seed)
    )


def blend_sequence(seed: int = 0) -> Recommender:
    """The default blend with the sequential model as a fourth part (on timed data)."""
    parts = _with_sequence(seed)
    return BlendRecommender(BlendConfig(parts=parts, choice=ChoiceConfig(seed=seed), seed=seed))


def blend_next(seed: int = 0) -> Recommender:
    """The blend with the sequential part, its mix chosen for each user's next event alone.

    For lists that answer "what next" ("up next", "continue"): no setting is held back for
    losing the user's broader taste (the random validation part), so on timed data the choice
    leans on recency and the sequential part as far as the latest events reward them. That
    taste is what stratified splits measure, and there this family ranks lower than the
    default (docs/evaluation.md, "Model families"). Without timestamps it is the default blend.
    """
    choice = ChoiceConfig(seed=seed, random_tolerance=1.0)
    return BlendRecommender(BlendConfig(parts=_with_sequence(seed), choice=choice, seed=seed))


def ease(seed: int = 0) -> Recommender:
    """EASE alone: closed form, on the most popular items (`EaseConfig.max_items`)."""
    return EaseRecommender(EaseConfig(seed=seed))


def embedding(seed: int = 0) -> Recommender:
    """The PyTorch fold-in embedding alone, early-stopped on its own holdout."""
    return EmbeddingRecommender(EmbeddingConfig(seed=seed))


def sequence(seed: int = 0) -> Recommender:
    """The sequential model alone (SASRec-style), early-stopped on each user's last item."""
    return SequenceRecommender(SequenceConfig(seed=seed))


MODEL_FAMILIES: Mapping[str, ModelFactory] = {
    "blend": blend,
    "blend-sequence": blend_sequence,
    "blend-next": blend_next,
    "ease": ease,
    "embedding": embedding,
    "sequence": sequence,
}


def known_family(name: str) -> str:
    """`name` if it names a family; else a ValueError that lists the known ones."""
    if name not in MODEL_FAMILIES:
        known = ", ".join(MODEL_FAMILIES)
        raise ValueError(f"unknown model family {name!r}; known: {known}")
    return name


def make_model(name: str = DEFAULT_MODEL, seed: int = 0) -> Recommender:
    """An unfitted model of the family `name`; unknown names list the known ones."""
    return MODEL_FAMILIES[known_family(name)](seed)
