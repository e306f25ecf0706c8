"""The contract every model family satisfies (after benfred/implicit).

The service only talks to models through this class. A user is described by
their interaction history at call time (item id -> summed weight, oldest first), so known
users, brand-new users and users who interacted a second ago are served by the
same code path: the model folds the history into a user vector on the fly.
"""

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt

#: Which items a request may return, aligned with `Recommender.item_ids` (True: allowed).
#: Items added after the mask was built (indices past its end) are not allowed: a caller builds
#: the mask from the catalogue generation it serves, so new items join at the next one.
ItemMask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class WeightedInteraction:
    user_id: str
    item_id: str
    weight: float
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class ItemFeatures:
    item_id: str
    title: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    text: str = ""


class Recommender(ABC):
    """Fit on weighted interactions, then rank items for any history."""

    @property
    @abstractmethod
    def item_ids(self) -> Sequence[str]:
        """Every item the model can score, in index order."""

    def has_item(self, item_id: str) -> bool:
        """Whether the model can score `item_id`; families with an id map answer in O(1)."""
        return item_id in self.item_ids

    @abstractmethod
    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Learn from interactions; `items` gives content features when known."""

    def fit_candidate(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Fit a candidate that is judged once and then `refit` on everything (`train_candidate`).

        Plain `fit` by default; a family may leave out work that the refit redoes anyway.
        """
        return self.fit(interactions, items)

    @abstractmethod
    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Fit on new data with what the last `fit` chose on validation (epochs, L2, mix).

        How a trained candidate is brought up to date with everything stored without choosing
        its settings again; returns the refitted model.
        """

    @abstractmethod
    def recommend(
        self,
        history: Mapping[str, float],
        k: int,
        exclude: Collection[str] = (),
        allowed: ItemMask | None = None,
    ) -> list[tuple[str, float]]:
        """Top-k (item_id, raw score) for a user with this history, best first.

        `history` lists items oldest first (by each item's latest interaction), so a model
        may weigh what the user did last more than what they did long ago. `allowed` filters
        inside retrieval (request filters, availability): the answer is still k long whenever
        k allowed items exist, however few pass.
        """

    @abstractmethod
    def recommend_histories(
        self, histories: Sequence[Mapping[str, float]], k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """`recommend(h, k, exclude=h)` of many histories, as rows of indices into `item_ids`.

        -1 (and score -inf) past what a row found. For batch jobs (`offline fit-predict`):
        a batch is scored at once instead of one request at a time.
        """

    @abstractmethod
    def similar_items(
        self, item_id: str, k: int, allowed: ItemMask | None = None
    ) -> list[tuple[str, float]]:
        """Top-k items most like `item_id` (itself excluded), best first; `allowed` filters
        inside retrieval as in `recommend`."""

    def item_vectors(self, item_ids: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """One embedding row per id (zeros for unknown ids), for diversity; None if the family
        has no item embeddings."""
        return None

    @abstractmethod
    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        """Make new content scorable from its features, before anyone touched it."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the model to the directory `path`."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> Self:
        """Read a model written by `save`."""
