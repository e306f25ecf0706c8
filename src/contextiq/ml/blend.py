"""A blend of named model families, mixed with shares chosen on validation.

The default blend is EASE, the PyTorch embedding and, when events carry timestamps, item
transitions (what sits next to what in users' sequences) and the sequential model (causal
self-attention over a history's latest items, `sequence.py`); `BlendConfig.parts` lists them
in order with the shares each may take, so a new family joins the default by adding one
`PartSpec` (and its kind to `blend_parts.BLEND_PARTS`). How the shares and the recency
boost are chosen is in `blend_choice.py`. Parts marked `judged` (the embedding) train for
as long as an even mix with the parts before them improves on the holdout: the mix wants a
sharper embedding than the one that ranks best alone.
"""

import functools
import json
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from contextiq.ml.base import ItemFeatures, ItemMask, WeightedInteraction
from contextiq.ml.blend_choice import (
    ChoiceConfig,
    Contender,
    Mix,
    choose_mix,
    even_mix_judge,
    standardise,
)
from contextiq.ml.blend_parts import (
    BLEND_PARTS,
    BlendPart,
    EasePart,
    EmbeddingPart,
    SequencePart,
    TrainingData,
    TransitionsPart,
)
from contextiq.ml.candidate_rows import (
    FloatRows,
    IntRows,
    distinct_rows,
    entries_at,
    standardised_rows,
)
from contextiq.ml.candidates import standardised
from contextiq.ml.data import (
    IdMap,
    Recency,
    history_matrices,
    history_matrix,
    history_vector,
    order_matrix,
    seen_matrix,
)
from contextiq.ml.ease import EaseConfig
from contextiq.ml.embedding import EmbeddingConfig
from contextiq.ml.index import top_k_rows
from contextiq.ml.neighbours import DEPTH, ItemNeighbours
from contextiq.ml.protocols import leave_last_out, stratified_split
from contextiq.ml.retrieval import SAVED_INDEX_MIN_ITEMS
from contextiq.ml.scale import LARGE_EVENTS
from contextiq.ml.scoring import ScoringRecommender
from contextiq.ml.sequence import SequenceConfig
from contextiq.ml.transitions import TransitionConfig

log = logging.getLogger(__name__)

#: Shares of the embedding in its mix with EASE (1.0: the embedding alone, 0.0: EASE alone).
EMBEDDING_SHARES = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
#: Shares of item transitions in the mix of the parts before them.
TRANSITION_SHARES = (0.0, 0.1, 0.2)
#: Shares of the sequential model in the mix of the parts before it (1.0: it alone).
SEQUENCE_SHARES = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
#: The parts of blends saved before parts had names, in their order.
LEGACY_ORDER = ("ease", "embedding", "transitions")
#: Folder of the saved blend's item neighbours.
NEIGHBOURS = "neighbours"


@dataclass(frozen=True)
class PartSpec:
    """A part of the blend: its kind (a `BLEND_PARTS` name), how to make it, its share grid.

    The first part takes what the later ones leave, so its own grid is not used.
    """

    name: str
    make: Callable[[], BlendPart]
    shares: tuple[float, ...] = ()


def standard_parts(
    ease: EaseConfig | None = None,
    embedding: EmbeddingConfig | None = None,
    transitions: TransitionConfig | None = None,
    sequence: SequenceConfig | None = None,
) -> tuple[PartSpec, ...]:
    """EASE, then the embedding, then item transitions; the sequential model when configured.

    The sequential part is opt-in (the "blend-sequence" family) until validation can use it
    without losing elsewhere: on the stratified benchmarks it took at most a 0.05 share, cost
    latest-small 0.002 nDCG@10 and tripled its fit time (docs/benchmarks.md).
    """
    parts = (
        PartSpec("ease", lambda: EasePart(ease)),
        PartSpec("embedding", lambda: EmbeddingPart(embedding), EMBEDDING_SHARES),
        PartSpec("transitions", lambda: TransitionsPart(transitions), TRANSITION_SHARES),
    )
    if sequence is None:
        return parts
    return (*parts, PartSpec("sequence", lambda: SequencePart(sequence), SEQUENCE_SHARES))


@dataclass(frozen=True)
class BlendConfig:
    parts: tuple[PartSpec, ...] = field(default_factory=standard_parts)
    choice: ChoiceConfig = field(default_factory=ChoiceConfig)
    validation_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [p.name for p in self.parts if p.name not in BLEND_PARTS]
        if unknown or not self.parts:
            raise ValueError(f"blend parts must be among {sorted(BLEND_PARTS)}, got {unknown}")

    def describe(self) -> dict[str, Any]:
        """What the saved blend records of its config (the factories themselves are code)."""
        return {
            "parts": [{"name": p.name, "shares": list(p.shares)} for p in self.parts],
            "choice": asdict(self.choice),
            "validation_fraction": self.validation_fraction,
            "seed": self.seed,
        }


Term = tuple[float, BlendPart, Recency]


class BlendRecommender(ScoringRecommender):
    def __init__(self, config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        self.order = [p.name for p in self.config.parts]
        self.mix = Mix(dict.fromkeys(self.order[1:], 0.0))
        #: The fitted parts with a share of the mix, in blend order.
        self.parts: dict[str, BlendPart] = {}
        self._items = IdMap()
        #: Recommend from candidates instead of scoring every item (`enable_ann`).
        self._candidates = False
        #: Every item's nearest items, saved with the model (`neighbours.py`).
        self._neighbours: ItemNeighbours | None = None

    def fit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        self._choose(interactions, items)
        return self.refit(interactions, items)

    def fit_candidate(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """On large data, the parts as fitted on the blend's own split: no refit before judging.

        `train_candidate` refits the candidate on every event after judging it, so refitting
        it on the candidate split first as well would fit every part three times. Judged
        this way, a candidate is fitted on about 88 % of the candidate split's events: a
        slightly pessimistic comparison with the serving model, never a flattering one.
        """
        if len(interactions) < LARGE_EVENTS:
            return self.fit(interactions, items)
        self._choose(interactions, items)
        return self

    def _choose(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures]
    ) -> None:
        """Fit the parts on a split of `interactions` and choose the mix on the rest."""
        cfg = self.config
        large = len(interactions) >= LARGE_EVENTS
        choice = cfg.choice.at_scale() if large else cfg.choice
        timed = all(i.timestamp is not None for i in interactions)
        rest, latest = leave_last_out(interactions, cfg.seed) if timed else (interactions, [])
        train, shuffled = stratified_split(rest, cfg.validation_fraction, cfg.seed)
        data = TrainingData(train, items)
        fitted: dict[str, BlendPart] = {}
        contenders: list[Contender] = []
        blend_items: IdMap | None = None
        for spec in cfg.parts:
            part = spec.make()
            if part.ordered and not latest:
                continue
            judge = None
            if part.judged and fitted:
                earlier = list(fitted.values())
                assert blend_items is not None, "a part before this one made the id map"
                judge = even_mix_judge(earlier, data.histories, shuffled, blend_items, choice)
            started = time.perf_counter()
            part.fit(data, blend_items, judge)
            log.info("blend: %s fitted in %.0fs", spec.name, time.perf_counter() - started)
            blend_items = blend_items or part.item_map
            fitted[spec.name] = part
            shares = spec.shares[::2] if large else spec.shares  # every other one: a coarser grid
            contenders.append(
                Contender(
                    spec.name, part, shares, part.reads_recency, part.linear, part.reads_order
                )
            )
        assert blend_items is not None, "the first part of a blend makes the id map"
        self.mix = choose_mix(contenders, data.histories, shuffled, latest, blend_items, choice)
        log.info("blend: chose %s", self.mix)
        coefficients = self.mix.coefficients(self.order)
        self.parts = {name: part for name, part in fitted.items() if coefficients[name] > 0}
        self._items = blend_items

    def refit(
        self, interactions: Sequence[WeightedInteraction], items: Sequence[ItemFeatures] = ()
    ) -> Self:
        """Fit the parts with a share again, with what the last `fit` chose (mix, epochs, L2)."""
        data = TrainingData(interactions, items)
        specs = {p.name: p for p in self.config.parts}
        refitted: dict[str, BlendPart] = {}
        blend_items: IdMap | None = None
        for name, share in self.mix.coefficients(self.order).items():
            if share <= 0:
                continue
            part = self.parts.get(name)
            started = time.perf_counter()
            if part is None:
                part = specs[name].make()
                part.fit(data, blend_items, None)
            else:
                part.refit(data, blend_items)
            log.info("blend: %s refitted in %.0fs", name, time.perf_counter() - started)
            blend_items = blend_items or part.item_map
            refitted[name] = part
        self.parts = refitted
        self._items = blend_items or IdMap()
        self._neighbours = None
        return self

    def _terms(self) -> list[Term]:
        """(coefficient, part, how it reads a history) for every part with a share."""
        coefficients = self.mix.coefficients(self.order)
        return [
            (c, self.parts[name], self.mix.recency if self.parts[name].reads_recency else Recency())
            for name, c in coefficients.items()
            if c > 0
        ]

    def _combine(
        self, score: Callable[[BlendPart, Recency], npt.NDArray[np.float32]]
    ) -> npt.NDArray[np.float32]:
        """Raw scores of a lone part, else the weighted sum of standardised ones."""
        terms = self._terms()
        if len(terms) == 1:
            _, part, recency = terms[0]
            return score(part, recency)
        mixed = sum(c * standardise(score(part, recency)) for c, part, recency in terms)
        return np.asarray(mixed, np.float32)

    def scores(self, history: Mapping[str, float]) -> npt.NDArray[np.float32]:
        read = functools.cache(lambda recency: history_vector(history, self._items, recency))
        return self._combine(lambda part, recency: part.score_indices(*read(recency)))

    def score_histories(self, histories: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
        read = functools.cache(lambda recency: history_matrix(histories, self._items, recency))
        order = functools.cache(lambda: order_matrix(histories, self._items))
        return self._combine(
            lambda part, recency: part.score_matrix(order() if part.reads_order else read(recency))
        )

    def enable_ann(self, min_items: int) -> None:
        """From `min_items` items on, recommend from candidates (see `recommend`)."""
        self._candidates = 0 < min_items <= len(self._items)
        for part in self.parts.values():
            part.enable_ann(min_items)

    def recommend(
        self,
        history: Mapping[str, float],
        k: int,
        exclude: Collection[str] = (),
        allowed: ItemMask | None = None,
    ) -> list[tuple[str, float]]:
        """On a large catalogue, mix only candidates: each part's own best (allowed) items.

        The embedding's come from its ANN index, EASE's and the transitions' from their few
        non-zero scores; each part's scores are standardised with its mean and spread over
        the whole catalogue, as the exact path does, so no request touches every item.
        """
        if not self._candidates:
            return super().recommend(history, k, exclude, allowed)
        read = functools.cache(lambda recency: history_vector(history, self._items, recency))
        scored = [(c, part.scored(*read(recency))) for c, part, recency in self._terms()]
        excluded = self._indices(exclude)
        n = k + len(excluded)
        pool = np.unique(
            np.concatenate([np.zeros(0, np.int64), *(s.best(n, allowed) for _, s in scored)])
        )
        if len(scored) == 1:
            return self._best_of(pool, scored[0][1].at(pool), k, excluded)
        mixed = sum(c * standardised(s, pool) for c, s in scored)
        return self._best_of(pool, np.asarray(mixed, np.float32), k, excluded)

    def recommend_histories(
        self, histories: Sequence[Mapping[str, float]], k: int
    ) -> tuple[IntRows, FloatRows]:
        """`recommend(h, k, exclude=h)` of many histories at once, as rows of item indices.

        -1 (and score -inf) past what a row found. On the candidate path each part gives its
        candidates for the whole batch (`candidate_rows.py`): what makes a neighbour table
        of every item cost seconds instead of a millisecond or more per item.
        """
        if not self._candidates:
            return super().recommend_histories(histories, k)
        terms = self._terms()
        recencies = list({recency for _, _, recency in terms})
        read = history_matrices(histories, self._items, recencies)
        rows = dict(zip(recencies, read, strict=True))
        own = seen_matrix(histories, self._items)
        order = functools.cache(lambda: order_matrix(histories, self._items))
        scored = [
            (c, part.scored_rows(order() if part.reads_order else rows[recency]))
            for c, part, recency in terms
        ]
        n = k + int(np.diff(own.indptr).max(initial=0))
        pool = distinct_rows(np.hstack([s.best(n) for _, s in scored]))
        if len(scored) == 1:
            mixed = scored[0][1].at(pool)
        else:
            mixed = np.asarray(sum(c * standardised_rows(s, pool) for c, s in scored), np.float32)
        mixed[(pool < 0) | entries_at(own, pool)[1]] = -np.inf
        best, values = top_k_rows(mixed, k)
        return np.where(best >= 0, np.take_along_axis(pool, np.maximum(best, 0), 1), -1), values

    def item_vectors(self, item_ids: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """The embedding part's item vectors, when the blend has one."""
        for part in self.parts.values():
            if isinstance(part, EmbeddingPart):
                return part.model.item_vectors(item_ids)
        return None

    def similar_items(
        self, item_id: str, k: int, allowed: ItemMask | None = None
    ) -> list[tuple[str, float]]:
        """From the neighbours saved with the model when enough of them are allowed."""
        table, index = self._neighbours, self._items.get(item_id)
        if table is None or index is None or index >= len(table) or k > table.depth:
            return super().similar_items(item_id, k, allowed)
        found, similarities = table.of(index, table.depth if allowed is not None else k)
        if allowed is not None:
            keep = found < len(allowed)
            keep[keep] = allowed[found[keep]]
            found, similarities = found[keep][:k], similarities[keep][:k]
            if len(found) < k:  # a selective filter: score the allowed items exactly
                return super().similar_items(item_id, k, allowed)
        ids = self._items.ids
        # Plain lists first: indexing numpy arrays item by item costs more than the lookup.
        return [(ids[j], s) for j, s in zip(found.tolist(), similarities.tolist(), strict=True)]

    def add_items(self, items: Sequence[ItemFeatures]) -> None:
        """Parts with maps of their own grow them; the others see new items through the blend's."""
        for part in self.parts.values():
            part.add_items(items)

    def save(self, path: Path) -> None:
        """Save the parts, and every item's neighbours (computed here when not yet known)."""
        path.mkdir(parents=True, exist_ok=True)
        if self._neighbours is None or len(self._neighbours) != len(self._items):
            if not self._candidates and len(self._items) >= SAVED_INDEX_MIN_ITEMS:
                self.enable_ann(SAVED_INDEX_MIN_ITEMS)  # a scoring of every item per item is n^2
            ids = self._items.ids
            self._neighbours = ItemNeighbours.compute(
                lambda items: self.recommend_histories([{ids[j]: 1.0} for j in items], DEPTH),
                len(ids),
            )
        for name, part in self.parts.items():
            part.save(path / name)
        self._neighbours.save(path / NEIGHBOURS)
        meta = {
            "order": self.order,
            "mix": {"shares": self.mix.shares, "recency": asdict(self.mix.recency)},
            "config": self.config.describe(),
        }
        (path / "blend.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / "blend.json").read_text())
        model = cls()
        model.order = list(meta.get("order", LEGACY_ORDER))
        model.mix = _saved_mix(meta)
        blend_items: IdMap | None = None
        for name, share in model.mix.coefficients(model.order).items():
            if share > 0:
                part = BLEND_PARTS[name].load(path / name, blend_items)
                blend_items = blend_items or part.item_map
                model.parts[name] = part
        model._items = blend_items or IdMap()
        if (path / NEIGHBOURS).exists():  # saved since neighbours were precomputed
            model._neighbours = ItemNeighbours.load(path / NEIGHBOURS)
        return model


def _saved_mix(meta: dict[str, Any]) -> Mix:
    """The mix of a saved blend, whichever layout saved it.

    Before parts had names the mix was (weight: the embedding's share against EASE,
    recency, transitions: their share), and before transitions it sat at the top level.
    """
    mix = meta.get("mix") or {"weight": meta["weight"], "recency": meta.get("recency", {})}
    recency = Recency(**mix["recency"])
    if "shares" in mix:
        return Mix({k: float(v) for k, v in mix["shares"].items()}, recency)
    shares = {"embedding": float(mix["weight"]), "transitions": float(mix.get("transitions", 0.0))}
    return Mix(shares, recency)
