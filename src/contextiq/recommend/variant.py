"""Serving settings that differ from the defaults: an experiment arm's, or a promoted one."""

from dataclasses import dataclass

from contextiq.ml.base import Recommender


@dataclass(frozen=True, slots=True)
class Variant:
    #: The ML share of the blend; None keeps `CONTEXTIQ_ML_WEIGHT`.
    ml_weight: float | None = None
    #: False skips language-model rescoring.
    llm: bool = True
    #: A pinned model and its version; None serves the active one.
    model: Recommender | None = None
    model_version: str | None = None


DEFAULT = Variant()
