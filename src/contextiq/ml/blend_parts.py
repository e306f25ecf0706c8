"""The families a blend can hold, each behind one small interface (`BlendPart`).

A part is fitted on the blend's training data, scores histories given as item indices
over the blend's item map, grows with new items and saves itself under its own folder.
`BLEND_PARTS` names every kind, so a saved blend reloads its parts by name.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import ItemFeatures, ItemMask, WeightedInteraction
from contextiq.ml.blend_choice import Family
from contextiq.ml.candidate_rows import DenseRows, IntRows, RowScores, SparseRows
from contextiq.ml.candidates import (
    DenseScores,
    FloatArray,
    IntArray,
    PartScores,
    SparseScores,
)
from contextiq.ml.data import IdMap
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.evaluate import histories_by_user
from contextiq.ml.retrieval import VectorRecommender
from contextiq.ml.scoring import FoldInRecommender
from contextiq.ml.sequence import SequenceConfig, SequenceRecommender
from contextiq.ml.transitions import ItemTransitions, TransitionConfig


@dataclass
class TrainingData:
    """What parts are fitted on; histories (oldest first) are built once, when first asked for."""

    interactions: Sequence[WeightedInteraction]
    items: Sequence[ItemFeatures]

    @cached_property
    def histories(self) -> dict[str, dict[str, float]]:
        return histories_by_user(self.interactions)


Judge = Callable[[Family], float]


class BlendPart(ABC):
    """One family inside a blend."""

    #: Reads a history with the blend's recency boost (else every item counts alike).
    reads_recency: ClassVar[bool] = True
    #: Scores are linear in the history's strengths.
    linear: ClassVar[bool] = False
    #: Only means something when events are in time order (the blend skips it otherwise).
    ordered: ClassVar[bool] = False
    #: Trained for as long as an even mix with the parts before it keeps improving.
    judged: ClassVar[bool] = False
    #: `score_matrix` reads rows of `data.order_matrix` (item order), not strengths.
    reads_order: ClassVar[bool] = False

    @abstractmethod
    def fit(self, data: TrainingData, items: IdMap | None, judge: Judge | None) -> None:
        """Learn; `items` is the blend's map when a part before this one made it."""

    @abstractmethod
    def refit(self, data: TrainingData, items: IdMap | None) -> None:
        """Fit again with what the last `fit` chose (epochs, L2)."""

    @property
    def item_map(self) -> IdMap | None:
        """The id map this part builds when fitted (None: it uses the blend's)."""
        return None

    @abstractmethod
    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]: ...

    @abstractmethod
    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]: ...

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        """Make new items scorable (parts that share the blend's map grow with it)."""
        return None

    def enable_ann(self, min_items: int) -> None:
        """Retrieve through an ANN index from `min_items` items on; only some parts can."""
        return None

    def scored(self, indices: IntArray, strengths: FloatArray) -> PartScores:
        """This part's scores for one history in the form a candidate blend mixes."""
        return DenseScores(self.score_indices(indices, strengths))

    def scored_rows(self, strengths: sp.csr_matrix) -> RowScores:
        """`scored` of many histories (rows of signed strengths) at once."""
        return DenseRows(self.score_matrix(strengths))

    @abstractmethod
    def save(self, path: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, path: Path, items: IdMap | None) -> Self: ...


class FamilyPart(BlendPart):
    """A part that is one of the package's fold-in families, used as it is."""

    model: FoldInRecommender

    def refit(self, data: TrainingData, items: IdMap | None) -> None:
        self.model.refit(data.interactions, data.items)

    @property
    def item_map(self) -> IdMap:
        return self.model.item_map

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        return self.model.score_indices(indices, strengths)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        return self.model.score_matrix(strengths)

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        self.model.add_items(items)

    def enable_ann(self, min_items: int) -> None:
        self.model.enable_ann(min_items)

    def scored(self, indices: IntArray, strengths: FloatArray) -> PartScores:
        if isinstance(self.model, VectorRecommender) and self.model.uses_ann:
            return IndexedScores(self.model, self.model.user_vector(indices, strengths))
        return super().scored(indices, strengths)

    def scored_rows(self, strengths: sp.csr_matrix) -> RowScores:
        if isinstance(self.model, VectorRecommender) and self.model.uses_ann:
            return IndexedRows(self.model, self.model.user_rows(strengths))
        return super().scored_rows(strengths)

    def save(self, path: Path) -> None:
        self.model.save(path)

    @classmethod
    def load(cls, path: Path, items: IdMap | None) -> Self:
        part = cls()
        part.model = type(part.model).load(path)
        return part


class EasePart(FamilyPart):
    linear = True

    def __init__(self, config: EaseConfig | None = None) -> None:
        self.model: EaseRecommender = EaseRecommender(config)

    def scored(self, indices: IntArray, strengths: FloatArray) -> PartScores:
        return SparseScores(len(self.model.item_ids), *self.model.sparse_scores(indices, strengths))

    def scored_rows(self, strengths: sp.csr_matrix) -> RowScores:
        return SparseRows(self.model.sparse_score_rows(strengths))

    def fit(self, data: TrainingData, items: IdMap | None, judge: Judge | None) -> None:
        self.model.fit(data.interactions, data.items)


class EmbeddingPart(FamilyPart):
    judged = True

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.model: EmbeddingRecommender = EmbeddingRecommender(config)

    def fit(self, data: TrainingData, items: IdMap | None, judge: Judge | None) -> None:
        if judge is None:
            self.model.fit(data.interactions, data.items)
        else:
            self.model.fit_judged(data.interactions, data.items, judge)


class IndexedScores(PartScores):
    """A vector family's scores for a user (the embedding's, the sequential model's),
    retrieved through its ANN index."""

    def __init__(self, model: VectorRecommender, user: FloatArray) -> None:
        self.model, self.user = model, user
        self.mean, self.spread = model.score_mean_std(user)

    def best(self, n: int, allowed: ItemMask | None) -> IntArray:
        return self.model.nearest(self.user, n, allowed)

    def at(self, pool: IntArray) -> FloatArray:
        return self.model.pool_scores(self.user, pool)


class IndexedRows(RowScores):
    """`IndexedScores` of many users (rows) at once."""

    def __init__(self, model: VectorRecommender, users: FloatArray) -> None:
        self.model, self.users = model, users
        self.mean, self.spread = model.score_mean_std_rows(users)

    def best(self, n: int) -> IntRows:
        return self.model.nearest_rows(self.users, n)

    def at(self, pool: IntRows) -> FloatArray:
        return self.model.pool_score_rows(self.users, pool)


class TransitionsPart(BlendPart):
    reads_recency = False
    ordered = True

    def __init__(self, config: TransitionConfig | None = None) -> None:
        self.config = config or TransitionConfig()
        self.model = ItemTransitions(IdMap(), self.config)

    def fit(self, data: TrainingData, items: IdMap | None, judge: Judge | None) -> None:
        self.model = ItemTransitions(items or IdMap(), self.config)
        self.model.fit(list(data.histories.values()))

    def refit(self, data: TrainingData, items: IdMap | None) -> None:
        self.fit(data, items, None)

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        return self.model.score_indices(indices, strengths)

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]:
        return self.model.score_matrix(strengths)

    def scored(self, indices: IntArray, strengths: FloatArray) -> PartScores:
        return SparseScores(self.model.size, *self.model.sparse_scores(indices, strengths))

    def scored_rows(self, strengths: sp.csr_matrix) -> RowScores:
        return SparseRows(self.model.sparse_score_rows(strengths))

    def save(self, path: Path) -> None:
        self.model.save(path)

    @classmethod
    def load(cls, path: Path, items: IdMap | None) -> Self:
        part = cls()
        part.model = ItemTransitions.load(path, items or IdMap())
        part.config = part.model.config
        return part


class SequencePart(FamilyPart):
    """The sequential model: what comes next after a history's latest items, in order."""

    reads_recency = False
    ordered = True
    reads_order = True

    def __init__(self, config: SequenceConfig | None = None) -> None:
        self.model: SequenceRecommender = SequenceRecommender(config)

    def fit(self, data: TrainingData, items: IdMap | None, judge: Judge | None) -> None:
        # The blend refits every part it keeps on all the data, so no refit here.
        self.model.config = replace(self.model.config, refit=False)
        self.model.fit(data.interactions, data.items)


#: Every kind of part by the name a blend saves it under.
BLEND_PARTS: Mapping[str, type[BlendPart]] = {
    "ease": EasePart,
    "embedding": EmbeddingPart,
    "transitions": TransitionsPart,
    "sequence": SequencePart,
}
