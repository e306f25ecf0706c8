"""Plain results the store hands back, independent of SQLAlchemy rows."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contextiq.events.types import Event


@dataclass(frozen=True, slots=True)
class RecordResult:
    accepted: list[str]
    duplicates: list[str]


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecentItem:
    content_id: str
    title: str
    category: str
    interaction_type: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    counts: dict[str, int]
    top_categories: list[tuple[str, int]]
    first_seen: datetime | None
    last_seen: datetime | None
    recent: list[RecentItem]


@dataclass(slots=True)
class History:
    """A user's interactions folded per item; every item in `weights` counts as seen.

    `weights` lists items oldest first by each item's latest interaction; `recent_positive`
    newest first.
    """

    weights: dict[str, float] = field(default_factory=dict)
    recent_positive: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    version: str
    created_at: datetime
    status: str
    metrics: dict[str, float]
    n_users: int
    n_items: int
    n_interactions: int
    train_seconds: float

    def as_served(self, serving: str | None) -> "ModelVersion":
        """This row with the status the model registry gives it.

        The registry's ACTIVE file (model_dir) decides which version serves: every replica loads
        what it names. A row is the training history (metrics, sizes, the verdict) written after
        the promotion, so its own "active" can be stale: another process promoted since, the
        writer died between promoting and recording, or an operator rolled ACTIVE back.
        """
        if self.version == serving:
            return replace(self, status="active")
        if self.status == "active":
            return replace(self, status="retired")
        return self


@dataclass(frozen=True, slots=True)
class InteractionColumns:
    """A chunk of stored interactions as columns: what training reads, millions at a time."""

    user_ids: list[str]
    content_ids: list[str]
    weights: list[float]
    #: Seconds since the epoch (UTC).
    timestamps: list[float]


@dataclass(frozen=True, slots=True)
class TrainingCount:
    """The events a round learns from, counted across every worker (`training_count`)."""

    #: Applied since the last completed round.
    events: int
    #: The next round is due `CONTEXTIQ_RETRAIN_EVERY_EVENTS` past this count.
    due_from: int


@dataclass(frozen=True, slots=True)
class Applied:
    """What `Store.apply_events` applied for the first time."""

    events: list[Event]
    #: How many of them a model learns from (`TRAINED_ON`), added to the shared count.
    counted: int = 0
    #: The shared count with them; None when the batch counted none (the row is left alone).
    count: TrainingCount | None = None
