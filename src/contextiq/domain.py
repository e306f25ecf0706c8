"""Core vocabulary shared by the API, the store, the worker and the models."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only a type here: config.py checks backend URLs against registries that import this module.
    from contextiq.config import Settings


#: The earliest time an event may carry: ms-since-1970 clocks (Kafka record timestamps,
#: impression times) and the decayed popularity start here, and before it Windows'
#: `datetime.fromtimestamp` refuses negative times.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """A naive time is UTC (SQLite hands stored times back naive); any other is converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


class InteractionType(StrEnum):
    VIEW = "view"
    LIKE = "like"
    SAVE = "save"
    SHARE = "share"
    DISLIKE = "dislike"
    SKIP = "skip"


#: Types that tell us what the user wants more of.
POSITIVE_TYPES = frozenset(
    {InteractionType.VIEW, InteractionType.LIKE, InteractionType.SAVE, InteractionType.SHARE}
)


def interaction_weight(
    settings: "Settings", kind: InteractionType, duration_seconds: float | None = None
) -> float:
    """Signed strength of one interaction; longer views count more, up to a cap."""
    base = {
        InteractionType.VIEW: settings.weight_view,
        InteractionType.LIKE: settings.weight_like,
        InteractionType.SAVE: settings.weight_save,
        InteractionType.SHARE: settings.weight_share,
        InteractionType.DISLIKE: settings.weight_dislike,
        InteractionType.SKIP: settings.weight_skip,
    }[kind]
    if kind is InteractionType.VIEW and duration_seconds:
        factor = 1.0 + duration_seconds / settings.view_duration_unit_seconds
        return base * min(settings.view_duration_cap, factor)
    return base


#: An anonymous session's events are stored under `SESSION_PREFIX + session_id` as their
#: subject, in the column that holds user ids. `~` is outside the identifier alphabet
#: (api/schemas.py `Identifier`), so no user id can ever collide with a session.
SESSION_PREFIX = "~session:"


def session_subject(session_id: str) -> str:
    """The subject a session's events are stored, cached and partitioned under."""
    return SESSION_PREFIX + session_id


def subject_ids(subject: str) -> dict[str, str | None]:
    """`{"user_id", "session_id"}` for a subject, the other one None: what responses show."""
    if subject.startswith(SESSION_PREFIX):
        return {"user_id": None, "session_id": subject.removeprefix(SESSION_PREFIX)}
    return {"user_id": subject, "session_id": None}


@dataclass(frozen=True, slots=True)
class Content:
    content_id: str
    title: str
    category: str
    description: str = ""
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Shown only from `available_from` (inclusive) until `available_until` (exclusive).
    available_from: datetime | None = None
    available_until: datetime | None = None
    #: Never recommended while set, whatever the window.
    hidden: bool = False

    def available(self, now: datetime) -> bool:
        """Whether any list may show this item at `now`."""
        if self.hidden:
            return False
        if self.available_from is not None and now < self.available_from:
            return False
        return self.available_until is None or now < self.available_until


@dataclass(frozen=True, slots=True)
class Interaction:
    event_id: str
    #: The subject: a user's id, or an anonymous session's (`session_subject`).
    user_id: str
    content_id: str
    interaction_type: InteractionType
    weight: float
    occurred_at: datetime
    duration_seconds: float | None = None
    # The API request that recorded it, carried to the worker's logs (None for imports).
    request_id: str | None = None
    #: The served list this came from, when the client says so (docs/experiments.md).
    recommendation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    content_id: str
    title: str
    category: str
    tags: tuple[str, ...]
    score: float
    ml_score: float
    llm_score: float | None
    reason: str
    source: str
