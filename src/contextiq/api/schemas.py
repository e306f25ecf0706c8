"""Request and response bodies of the public API."""

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from contextiq.config import Settings
from contextiq.domain import (
    EPOCH,
    Content,
    Interaction,
    InteractionType,
    as_utc,
    interaction_weight,
    session_subject,
)
from contextiq.observability.context import current_request_id

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")
]
#: An anonymous visitor's session, chosen by the client (a random id kept in the browser).
#: Shorter than a user id: stored with a prefix in the same column (domain.session_subject).
SessionId = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@\-]+$")
]
SUBJECT_RULE = "give exactly one of user_id and session_id"
#: How far ahead of this server's clock an event may say it happened (clock skew). Further
#: ahead, an event would sort after everything sent later, and a retraining comparison
#: (which judges on events newer than the model) would wait until real time caught up.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _utc(moment: datetime) -> datetime:
    """Naive is UTC; a time that leaves the calendar once converted (year 0 or 10000) is 422."""
    try:
        return as_utc(moment)
    except OverflowError as exc:
        raise ValueError("the time falls outside years 1 to 9999 once converted to UTC") from exc


#: Every time the API takes, in UTC from validation on (SQLite hands stored times back naive,
#: so a stored time must already be UTC).
UtcTime = Annotated[datetime, AfterValidator(_utc)]


def not_ahead(moment: datetime | None) -> datetime | None:
    """Refuse an event time further ahead of this server's clock than `FUTURE_TOLERANCE`."""
    if moment is None:
        return None
    ahead = moment - datetime.now(UTC)
    if ahead > FUTURE_TOLERANCE:
        raise ValueError(
            f"timestamp is {ahead.total_seconds():.0f} s ahead of this server's clock; "
            f"at most {FUTURE_TOLERANCE.total_seconds():.0f} s ahead is accepted"
        )
    return moment


def not_before_epoch(moment: datetime | None) -> datetime | None:
    """Refuse an event time before `EPOCH`: the event bus and popularity count from it."""
    if moment is not None and moment < EPOCH:
        raise ValueError(
            f"timestamp is before {EPOCH:%Y-%m-%d} (UTC); event times start at the Unix epoch"
        )
    return moment


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class DependencyStatus(BaseModel):
    status: Literal["ok", "degraded", "down"]
    backend: str
    detail: str | None = None
    latency_ms: float | None = None


class LiveResponse(BaseModel):
    status: Literal["alive"]


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    dependencies: dict[str, DependencyStatus]


class SubjectIn(BaseModel):
    """A body that names who acted: a user, or an anonymous visitor's session (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier | None = None
    session_id: SessionId | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> "SubjectIn":
        if (self.user_id is None) == (self.session_id is None):
            raise ValueError(SUBJECT_RULE)
        return self

    @property
    def subject(self) -> str:
        """What it is stored under: the user id, or the session's subject."""
        if self.session_id is not None:
            return session_subject(self.session_id)
        assert self.user_id is not None  # the validator saw to it
        return self.user_id


class InteractionIn(SubjectIn):
    content_id: Identifier
    interaction_type: InteractionType
    duration_seconds: Annotated[float, Field(ge=0, le=86_400 * 7)] | None = None
    event_id: Identifier | None = None
    timestamp: Annotated[
        UtcTime | None, AfterValidator(not_before_epoch), AfterValidator(not_ahead)
    ] = None
    #: The answer this came from (its `recommendation_id`), for exact attribution.
    recommendation_id: Identifier | None = None

    def to_interaction(
        self, settings: Settings, default_event_id: str | None = None
    ) -> Interaction:
        """The one conversion of input (API body or import row) into a domain interaction.

        A missing `event_id` takes `default_event_id` (imports derive one from the row,
        `data/files.import_event_id`, so a re-run adds nothing), else a random one; a missing
        timestamp is now.
        """
        return Interaction(
            event_id=self.event_id or default_event_id or uuid.uuid4().hex,
            user_id=self.subject,
            content_id=self.content_id,
            interaction_type=self.interaction_type,
            weight=interaction_weight(settings, self.interaction_type, self.duration_seconds),
            occurred_at=self.timestamp or datetime.now(UTC),
            duration_seconds=self.duration_seconds,
            request_id=current_request_id(),
            recommendation_id=self.recommendation_id,
        )


class InteractionAccepted(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate"]


class BatchInteractionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interactions: list[Any] = Field(max_length=10_000)


class RejectedItem(BaseModel):
    index: int
    code: str
    message: str


class BatchInteractionsResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedItem]


class RecommendationOut(BaseModel):
    position: int
    content_id: str
    title: str
    category: str
    tags: list[str]
    score: float
    ml_score: float
    llm_score: float | None
    reason: str
    source: str


class RecommendationsResponse(BaseModel):
    #: Unique per answer served, cached copies included; send it back with interactions.
    recommendation_id: str = ""
    #: Whom the list is for: the user, or the anonymous session (the other one is null).
    user_id: str | None
    session_id: str | None = None
    items: list[RecommendationOut]
    model_version: str | None
    llm_provider: str | None
    cached: bool
    personalized: bool
    #: The experiment and arm that served this answer, if any ("interleaved" for both arms).
    experiment: str | None = None
    arm: str | None = None


#: Deepest nesting of objects and lists in an item's metadata: far deeper could be stored but
#: not served (pydantic stops serialising at its own depth limit, a 500 on every read).
MAX_METADATA_DEPTH = 32


def no_nul(text: str) -> str:
    """PostgreSQL's text cannot hold U+0000 (a 500 there, stored on SQLite): refused anywhere."""
    if "\x00" in text:
        raise ValueError("text may not contain the NUL character (U+0000)")
    return text


def storable_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata every store keeps and every read serves, refused now rather than stored:
    text that is valid Unicode without NUL (PostgreSQL's jsonb refuses U+0000 with a 500; a
    lone surrogate was stored on SQLite and failed every later read of the item), finite
    numbers (JSON has no NaN or Infinity, and `1e400` parses as one) and at most
    `MAX_METADATA_DEPTH` levels. Walked without recursion."""
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _valid_unicode(no_nul(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError("metadata numbers must be finite (JSON has no NaN or Infinity)")
        elif isinstance(value, dict | list):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"metadata nests at most {MAX_METADATA_DEPTH} levels deep")
            inner = [*value, *value.values()] if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in inner)
    return metadata


def _valid_unicode(text: str) -> str:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a `\ud800` escape
        raise ValueError("metadata text must be valid Unicode (no lone surrogates)") from None
    return text


StorableText = Annotated[str, AfterValidator(no_nul)]


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_id: Identifier
    title: Annotated[StorableText, StringConstraints(min_length=1, max_length=500)]
    category: Annotated[StorableText, StringConstraints(min_length=1, max_length=100)]
    description: Annotated[StorableText, StringConstraints(max_length=20_000)] = ""
    tags: Annotated[
        list[Annotated[StorableText, StringConstraints(max_length=100)]], Field(max_length=50)
    ] = []
    created_at: UtcTime | None = None
    metadata: Annotated[dict[str, Any], AfterValidator(storable_metadata)] = {}
    #: The item is recommended only from `available_from` until `available_until` (UTC when
    #: naive), and never while `hidden`.
    available_from: UtcTime | None = None
    available_until: UtcTime | None = None
    hidden: bool = False

    @model_validator(mode="after")
    def _window_ends_after_it_starts(self) -> "ContentIn":
        starts, ends = self.available_from, self.available_until
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("available_until must come after available_from")
        return self

    def to_content(self) -> Content:
        return Content(
            content_id=self.content_id,
            title=self.title,
            category=self.category,
            description=self.description,
            tags=tuple(self.tags),
            created_at=self.created_at,
            metadata=self.metadata,
            available_from=self.available_from,
            available_until=self.available_until,
            hidden=self.hidden,
        )


class ContentOut(BaseModel):
    content_id: str
    title: str
    category: str
    description: str
    tags: list[str]
    created_at: datetime
    metadata: dict[str, Any]
    available_from: datetime | None
    available_until: datetime | None
    hidden: bool


class ContentPage(BaseModel):
    items: list[ContentOut]
    total: int
    limit: int
    offset: int
    #: The `cursor` of the page after this one; null on the last page.
    next_cursor: str | None


class UpsertResult(BaseModel):
    upserted: int


class SimilarItem(BaseModel):
    content_id: str
    title: str
    category: str
    score: float


class SimilarResponse(BaseModel):
    content_id: str
    items: list[SimilarItem]


class RecentItem(BaseModel):
    content_id: str
    title: str
    category: str
    interaction_type: InteractionType
    occurred_at: datetime


class CategoryCount(BaseModel):
    category: str
    count: int


class UserProfile(BaseModel):
    user_id: str
    total: int
    counts: dict[str, int]
    top_categories: list[CategoryCount]
    first_seen: datetime | None
    last_seen: datetime | None
    recent: list[RecentItem]


class ModelVersionOut(BaseModel):
    version: str
    created_at: datetime
    status: Literal["active", "candidate", "rejected", "retired"]
    #: The model family it was trained as (`ml/families.py`); null for versions saved before
    #: families were recorded, or whose files are gone.
    family: str | None = None
    metrics: dict[str, float]
    n_users: int
    n_items: int
    n_interactions: int
    train_seconds: float


class ModelStatus(BaseModel):
    active: ModelVersionOut | None
    history: list[ModelVersionOut]
    #: Each model family with a trained version, and its newest accepted one: what a request's
    #: `model_family=` is served.
    families: dict[str, str]
    last_trained_at: datetime | None
    #: Events applied since the last completed round, by every worker (the store's count,
    #: read alike by any process).
    events_since_training: int
    #: A training runs now: anywhere on PostgreSQL (its lock), on the host on SQLite (its lock
    #: file, on Linux; elsewhere this process's own rounds).
    training: bool
    retrain_enabled: bool


class CategoriesResponse(BaseModel):
    categories: list[CategoryCount]


class RetrainAccepted(BaseModel):
    """`requested`: queued for a worker, which starts the round unless one runs by then;
    `already_running`: a training runs now, nothing queued."""

    status: Literal["requested", "already_running"]


class UserDeletion(BaseModel):
    user_id: str
    #: Rows and cache keys removed, per kind: interactions, stats, profile, snapshots,
    #: impressions, online_users, experiment_users, dead_letters, parked_reports, events (in
    #: the outbox), cached_recommendations, cached_llm_scores.
    removed: dict[str, int]


class SessionDeletion(BaseModel):
    session_id: str
    #: As `UserDeletion.removed`.
    removed: dict[str, int]


class ExportedInteraction(BaseModel):
    event_id: str
    content_id: str
    interaction_type: str
    duration_seconds: float | None
    weight: float
    occurred_at: datetime


class ExportedStat(BaseModel):
    interaction_type: str
    count: int
    first_at: datetime
    last_at: datetime


class ExportedRecommendations(BaseModel):
    model_version: str | None
    items: list[dict[str, Any]]
    served_at: datetime


class ExportedImpression(BaseModel):
    """A list shown to the user: when, which list, what they saw and did with it."""

    recommendation_id: str
    shown_at: datetime
    #: The list shown: one of `served_lists`.
    list_id: str
    #: Positions the client reported as rendered; null means all of them.
    seen_positions: list[int] | None
    #: Interaction types attributed to this impression.
    engaged: list[str]
    clicked_positions: list[int]


class ExportedListItem(BaseModel):
    position: int
    content_id: str
    score: float


class ExportedServedList(BaseModel):
    list_id: str
    model_version: str | None = None
    experiment: str | None = None
    arm: str | None = None
    #: Interleaved lists: the arm each position came from.
    teams: list[str] | None = None
    items: list[ExportedListItem]
    #: Only for a list this version cannot decode: as it is stored.
    listing: str | None = None


class ExportedExperiment(BaseModel):
    """An experiment arm the user was counted in, with their counts there."""

    experiment: str
    arm: str
    impressions: int
    clicks: int


class ExportedOnlineDay(BaseModel):
    """A day the user is counted as shown a list, per model version and experiment arm."""

    day: str
    model_version: str | None
    experiment: str | None
    arm: str | None


class ExportedDeadLetter(BaseModel):
    """An event of theirs the worker could not apply on any delivery, set aside until an
    operator replays it (DEPLOYMENT.md, "Dead letters")."""

    event_id: str
    event_type: str
    #: The event as it was sent; an impression batch holds only their impressions and the
    #: lists those showed.
    event: dict[str, Any]
    #: Why it failed, as last recorded; null for an impression batch, whose error is the
    #: whole batch's and may quote the other people it names.
    error: str | None
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime


class ExportedParkedReport(BaseModel):
    """A click or seen report of theirs waiting for the impression it names: applied when
    that arrives, dropped after `CONTEXTIQ_ATTRIBUTION_WAIT_SECONDS` (docs/experiments.md)."""

    #: `interaction` (a click) or `impression_seen`.
    event_type: str
    recommendation_id: str
    #: The report as it was sent.
    event: dict[str, Any]
    parked_at: datetime


class HeldData(BaseModel):
    """Everything held about one subject: a user, or an anonymous session never merged."""

    first_recorded_at: datetime | None
    interactions: list[ExportedInteraction]
    stats: list[ExportedStat]
    recommendations_served: list[ExportedRecommendations]
    impressions: list[ExportedImpression]
    served_lists: list[ExportedServedList]
    experiments: list[ExportedExperiment]
    online_metrics: list[ExportedOnlineDay]
    dead_letters: list[ExportedDeadLetter]
    parked_reports: list[ExportedParkedReport]


class UserExport(HeldData):
    user_id: str


class SessionExport(HeldData):
    session_id: str


class SessionMergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: SessionId


class SessionMergeResult(BaseModel):
    user_id: str
    session_id: str
    #: Interactions moved from the session to the user; 0 when there was nothing (left) to move.
    moved: int


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    status: int
    details: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    #: Pass as `before_id` for the next (older) page; None on the last page.
    next_before_id: int | None


Expression = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]


def _known_family(name: str) -> str:
    # Here, not above: `contextiq import` reads this module's schemas without PyTorch.
    from contextiq.ml.families import known_family

    return known_family(name)


#: A name in `ml/families.py`.
ModelFamily = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_family)
]


class RuleIn(BaseModel):
    """A promotion rule (docs/rules.md); which fields apply depends on `kind`."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@\-]+$")
    ]
    kind: Literal["boost", "reserve", "pin"]
    filter: Expression | None = None
    factor: Annotated[float, Field(gt=0, le=1_000)] | None = None
    share: Annotated[float, Field(gt=0, le=1)] | None = None
    content_id: Identifier | None = None
    position: Annotated[int, Field(ge=1, le=100)] | None = None
    starts_at: UtcTime | None = None
    ends_at: UtcTime | None = None


class RuleOut(BaseModel):
    name: str
    kind: Literal["boost", "reserve", "pin"]
    filter: str | None
    factor: float | None
    share: float | None
    content_id: str | None
    position: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime | None
