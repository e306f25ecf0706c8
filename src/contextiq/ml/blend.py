"""The default pipeline: the PyTorch embedding model blended with EASE, mixed on validation.

Each family's scores are standardised per user before mixing, so the blend weights mean
the same thing for every user. The weight (1.0 = embedding only, 0.0 = EASE only), how
much a history's latest items count (`Recency`) and, when events carry timestamps, the
share of item transitions (`ItemTransitions`: what sits next to what in users' sequences)
are picked on a holdout carved from the training data, like Gorse's AutoML picks a model.
The embedding's training length is judged the same way: by what it adds to EASE.

The holdout has two parts when events carry timestamps: each user's latest event (what a
recommender is for: the next thing) and a random share of the rest (the user's broader
taste). Among the settings that lose at most `random_tolerance` of the best nDCG@10 on the
random part, the one with the best nDCG@10 on the latest events wins, so recency is used
as far as it helps the next event without forgetting the rest of the profile.
"""

import functools
import itertools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from contextiq.ml.base import ItemFeatures, WeightedInteraction
from contextiq.ml.data import IdMap, Recency, history_matrices, history_matrix, history_vector
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.evaluate import histories_by_user
from contextiq.ml.holdout import ranked_unseen, ranking_ndcg
from contextiq.ml.index import top_k
from contextiq.ml.protocols import leave_last_out, stratified_split
from contextiq.ml.scoring import ScoringRecommender
from contextiq.ml.transitions import ItemTransitions, TransitionConfig


@dataclass(frozen=True)
class BlendConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    ease: EaseConfig = field(default_factory=EaseConfig)
    transitions: TransitionConfig = field(default_factory=TransitionConfig)
    weight_grid: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
    recency_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
    transitions_grid: tuple[float, ...] = (0.0, 0.1, 0.2)
    random_tolerance: float = 0.01
    validation_fraction: float = 0.1
    seed: int = 0


def standardise(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Zero mean, unit spread along the last axis (per user), so families mix on one scale."""
    spread = scores.std(axis=-1, keepdims=True)
    spread[spread == 0] = 1.0
    centred: npt.NDArray[np.float32] = (scores - scores.mean(axis=-1, keepdims=True)) / spread
    return centred.astype(np.float32)


class Family(Protocol):
    """What the blend needs of each part: scores from a history as indices or as rows."""

    def score_indices(
        self, indices: npt.NDArray[np.int64], strengths: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]: ...

    def score_matrix(self, strengths: sp.csr_matrix) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class Mix:
    """The blend's choice: embedding vs EASE, how recent items count, the transitions' share."""

    weight: float = 1.0
    recency: Recency = field(default_factory=Recency)
    transitions: float = 0.0


Term = tuple[float, Family, Recency]


class BlendRecommender(ScoringRecommender):
    def __init__(self, config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        self.embedding = EmbeddingRecommender(self.config.embedding)
        self.ease = EaseRecommender(self.config.ease)
        self.mix = Mix()
        self._items = IdMap()
        self.transitions = ItemTransitions(self._items, self.config.transitions)

    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        cfg = self.config
        timed = all(i.timestamp is not None for i in interactions)
        rest, latest = leave_last_out(interactions, cfg.seed) if timed else (interactions, [])
        train, shuffled = stratified_split(rest, cfg.validation_fraction, cfg.seed)
        histories = histories_by_user(train)
        self.ease = EaseRecommender(cfg.ease).fit(train, items)
        judge = _even_mix_ndcg(self.ease, histories, shuffled)
        self.embedding = EmbeddingRecommender(cfg.embedding).fit_judged(train, items, judge)
        self.mix = self._choose(histories, shuffled, latest)
        self.refit(interactions, items)
        return self

    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Fit again with the settings the last `fit` chose (mix, epochs, L2)."""
        if self.mix.weight > 0:
            final = replace(
                self.embedding.config,
                validation_fraction=0.0,
                max_epochs=self.embedding.trained_epochs,
            )
            self.embedding = EmbeddingRecommender(final).fit(interactions, items)
        if self.mix.weight < 1:
            final_ease = replace(self.ease.config, l2_grid=(self.ease.l2,))
            self.ease = EaseRecommender(final_ease).fit(interactions, items)
        self._items = self._fitted().item_map
        self.transitions = ItemTransitions(self._items, self.config.transitions)
        if self.mix.transitions > 0:
            self.transitions.fit(list(histories_by_user(interactions).values()))
        return self

    def _fitted(self) -> ScoringRecommender:
        return self.embedding if self.mix.weight > 0 else self.ease

    def _choose(
        self,
        histories: dict[str, dict[str, float]],
        shuffled: Sequence[WeightedInteraction],
        latest: Sequence[WeightedInteraction],
    ) -> Mix:
        """The mix the module docstring's rule picks, on models fitted to these histories.

        Two rounds keep the grid small: embedding vs EASE and recency first, then, at that
        weight, recency again with a share of transitions (only for timed events).
        """
        cfg = self.config
        users = sorted({e.user_id for e in [*shuffled, *latest]})
        rows = [histories.get(u, {}) for u in users]
        items = self.embedding.item_map
        held = [_fresh(users, histories, part, items) for part in (shuffled, latest)]
        boosts = cfg.recency_grid if latest else (0.0,)
        recencies = [Recency(), Recency(1.0), *map(Recency, boosts)]
        seen, unit, *read = history_matrices(rows, items, recencies)
        # EASE is linear in the history, so two products give it every boost.
        flat = self.ease.score_matrix(seen)
        step = self.ease.score_matrix(unit) - flat
        profiles = {
            boost: (
                standardise(self.embedding.score_matrix(inputs)),
                standardise(flat + boost * step),
            )
            for boost, inputs in zip(boosts, read, strict=True)
        }
        candidates = [
            _judged(Mix(w, Recency(b)), w * deep + (1 - w) * linear, seen, held)
            for b, (deep, linear) in profiles.items()
            for w in cfg.weight_grid
        ]
        if latest:
            transitions = ItemTransitions(items, cfg.transitions).fit(list(histories.values()))
            sequential = standardise(transitions.score_matrix(seen))
            weight = _rule(candidates, cfg.random_tolerance).weight
            shares = [s for s in cfg.transitions_grid if s > 0]
            for (b, (deep, linear)), share in itertools.product(profiles.items(), shares):
                profile = weight * deep + (1 - weight) * linear
                mixed = (1 - share) * profile + share * sequential
                candidates.append(_judged(Mix(weight, Recency(b), share), mixed, seen, held))
        return _rule(candidates, cfg.random_tolerance)

    def _terms(self) -> list[Term]:
        """(coefficient, family, how it reads a history) for every part with a share."""
        weight, recency, share = self.mix.weight, self.mix.recency, self.mix.transitions
        terms: list[Term] = [
            ((1 - share) * weight, self.embedding, recency),
            ((1 - share) * (1 - weight), self.ease, recency),
            (share, self.transitions, Recency()),
        ]
        return [t for t in terms if t[0] > 0]

    def _combine(
        self, score: Callable[[Family, Recency], npt.NDArray[np.float32]]
    ) -> npt.NDArray[np.float32]:
        """Raw scores of a lone family, else the weighted sum of standardised ones."""
        terms = self._terms()
        if len(terms) == 1:
            _, family, recency = terms[0]
            return score(family, recency)
        mixed = sum(c * standardise(score(family, recency)) for c, family, recency in terms)
        return np.asarray(mixed, np.float32)

    def scores(self, history: Mapping[str, float]) -> npt.NDArray[np.float32]:
        read = functools.cache(lambda recency: history_vector(history, self._items, recency))
        return self._combine(lambda family, recency: family.score_indices(*read(recency)))

    def score_histories(self, histories: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
        read = functools.cache(lambda recency: history_matrix(histories, self._items, recency))
        return self._combine(lambda family, recency: family.score_matrix(read(recency)))

    def enable_ann(self, min_items: int) -> None:
        if self.mix.weight > 0:
            self.embedding.enable_ann(min_items)

    def recommend(
        self, history: Mapping[str, float], k: int, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """With an ANN index: score only the embedding's nearest items and the others' best."""
        if self.mix.weight <= 0 or not self.embedding.uses_ann:
            return super().recommend(history, k, exclude)
        excluded = self._indices(exclude)
        n = k + len(excluded)
        user = self.embedding.user_vector(*history_vector(history, self._items, self.mix.recency))
        pool = self.embedding.nearest(user, n)
        own, *others = self._terms()  # the embedding's term comes first
        if not others:
            return self._best_of(pool, self.embedding.pool_scores(user, pool), k, excluded)
        parts = [
            (c, standardise(family.score_indices(*history_vector(history, self._items, recency))))
            for c, family, recency in others
        ]
        for _, scores in parts:
            pool = np.union1d(pool, top_k(scores, n)[0])
        mean, spread = self.embedding.score_mean_std(user)
        deep = (self.embedding.pool_scores(user, pool) - mean) / (spread or 1.0)
        mixed = own[0] * deep + sum(c * scores[pool] for c, scores in parts)
        return self._best_of(pool, np.asarray(mixed, np.float32), k, excluded)

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        """New items reach the transitions through the shared id map, with no transitions yet."""
        if self.mix.weight > 0:
            self.embedding.add_items(items)
        if self.mix.weight < 1:
            self.ease.add_items(items)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.mix.weight > 0:
            self.embedding.save(path / "embedding")
        if self.mix.weight < 1:
            self.ease.save(path / "ease")
        if self.mix.transitions > 0:
            self.transitions.save(path / "transitions")
        meta = {"mix": asdict(self.mix), "config": asdict(self.config)}
        (path / "blend.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / "blend.json").read_text())
        # Models saved before transitions kept the weight and recency at the top level.
        mix = meta.get("mix") or {"weight": meta["weight"], "recency": meta.get("recency", {})}
        model = cls()
        model.mix = Mix(
            weight=float(mix["weight"]),
            recency=Recency(**mix["recency"]),
            transitions=float(mix.get("transitions", 0.0)),
        )
        if model.mix.weight > 0:
            model.embedding = EmbeddingRecommender.load(path / "embedding")
        if model.mix.weight < 1:
            model.ease = EaseRecommender.load(path / "ease")
        model._items = model._fitted().item_map
        model.transitions = (
            ItemTransitions.load(path / "transitions", model._items)
            if model.mix.transitions > 0
            else ItemTransitions(model._items, model.config.transitions)
        )
        return model


def _even_mix_ndcg(
    ease: EaseRecommender,
    histories: dict[str, dict[str, float]],
    held: Sequence[WeightedInteraction],
) -> Callable[[EmbeddingRecommender], float]:
    """nDCG@10 on `held` of an even mix of an embedding with `ease`: the embedding's judge.

    The mix wants a sharper embedding than the one that ranks best alone, so its epochs
    are chosen by what it adds to EASE.
    """
    users = sorted({e.user_id for e in held})
    seen = history_matrix([histories.get(u, {}) for u in users], ease.item_map)
    fresh = _fresh(users, histories, held, ease.item_map)
    linear = standardise(ease.score_matrix(seen))

    def judge(embedding: EmbeddingRecommender) -> float:
        mixed = 0.5 * standardise(embedding.score_matrix(seen)) + 0.5 * linear
        return ranking_ndcg(ranked_unseen(mixed, seen), fresh)

    return judge


Judged = tuple[float, float, Mix]  # (nDCG@10 on the random part, on the latest events, mix)


def _judged(
    mix: Mix,
    scores: npt.NDArray[np.floating[Any]],
    seen: sp.csr_matrix,
    held: Sequence[sp.csr_matrix],
) -> Judged:
    ranked = ranked_unseen(scores, seen)
    shuffled, latest = (ranking_ndcg(ranked, h) for h in held)
    return shuffled, latest, mix


def _rule(candidates: Sequence[Judged], tolerance: float) -> Mix:
    """Best on the latest events among those within `tolerance` of the best random-part nDCG."""
    floor = max(c[0] for c in candidates) * (1 - tolerance)
    eligible = [c for c in candidates if c[0] >= floor]
    return max(eligible, key=lambda c: (c[1], c[0]))[2]


def _fresh(
    users: Sequence[str],
    histories: dict[str, dict[str, float]],
    held: Sequence[WeightedInteraction],
    items: IdMap,
) -> sp.csr_matrix:
    """Rows of held-out positives per user that the user does not already have in train."""
    by_user = histories_by_user(held)
    rows = [
        {i: 1.0 for i, w in by_user.get(u, {}).items() if w > 0 and i not in histories.get(u, {})}
        for u in users
    ]
    return history_matrix(rows, items)
