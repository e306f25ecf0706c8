"""The one schema, shared by SQLite and PostgreSQL; Alembic migrations mirror it."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(128)
#: An event's wire type name (`events/types.py`).
EVENT_TYPE = String(32)
#: 64-bit keys on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime]


class ContentRow(Base):
    __tablename__ = "content"

    content_id: Mapped[str] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    available_from: Mapped[datetime | None]
    available_until: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        # The listing's order, newest first then by id: a page starts at its key, no sort.
        Index("ix_content_category_listing", "category", "created_at", "content_id"),
        Index("ix_content_listing", "created_at", "content_id"),
        Index("ix_content_updated", "updated_at"),
    )


class InteractionRow(Base):
    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ID, unique=True)
    user_id: Mapped[str] = mapped_column(ID)
    content_id: Mapped[str] = mapped_column(ID)
    interaction_type: Mapped[str] = mapped_column(String(16))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime]

    __table_args__ = (
        # Covers the request path's history read: a user's rows side by side in the index,
        # not one table page per event, which is where a time-ordered import scatters them
        # (docs/benchmarks.md, "A user's history in one place").
        Index(
            "ix_interactions_history",
            "user_id",
            "occurred_at",
            "id",
            "content_id",
            "interaction_type",
            "weight",
        ),
        Index("ix_interactions_content", "content_id"),
    )


class OutboxRow(Base):
    """Events written in the same transaction as their interaction, relayed at least once."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ID)
    key: Mapped[str] = mapped_column(ID)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_key", "key"),  # a user's deletion finds their events
    )


class ProcessedEvent(Base):
    """Event ids the worker has applied, kept for the dedupe window; makes consumers
    idempotent (`worker/dedupe_purge.py` forgets them)."""

    __tablename__ = "processed_events"
    #: The purge walks it oldest first (`Store.purge_processed_events`).
    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)

    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    processed_at: Mapped[datetime]


class DeadLetter(Base):
    """Events the worker could not apply, set aside so delivery goes on (worker/dead_letters.py).

    `user_id` is the user the event is about (None for an impression batch, which names
    several in its payload): an erasure deletes the user's dead letters.
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ID, unique=True)
    event_type: Mapped[str] = mapped_column(EVENT_TYPE)
    user_id: Mapped[str | None] = mapped_column(ID, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    failures: Mapped[int]
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]


class UserStats(Base):
    """Per-user, per-type counters maintained by the worker."""

    __tablename__ = "user_stats"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    interaction_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class ContentStats(Base):
    """Time-decayed popularity as a sum that only grows (`store/popularity.py`)."""

    __tablename__ = "content_stats"

    content_id: Mapped[str] = mapped_column(ID, primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_content_stats_score", "score"),)


class TrainingCountRow(Base):
    """One row: the events applied since the last completed training round, across every
    worker (`Store.apply_events` adds each batch's; a completed round takes off what it
    started with), and `due_from`, the count the next `CONTEXTIQ_RETRAIN_EVERY_EVENTS` are
    counted from: 0 after a completed round, the count at a failure or at the start of a
    round that never ended. The migration writes the row; nothing adds another."""

    __tablename__ = "training_count"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(BigInteger)
    due_from: Mapped[int] = mapped_column(BigInteger)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_users: Mapped[int] = mapped_column(Integer, default=0)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_interactions: Mapped[int] = mapped_column(Integer, default=0)
    train_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (Index("ix_model_versions_created", "created_at"),)


class RecommendationSnapshot(Base):
    """What was served to whom and by which model, for audits and offline replay."""

    __tablename__ = "recommendation_snapshots"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ID)
    model_version: Mapped[str | None] = mapped_column(String(64))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_snapshots_user_time", "user_id", "created_at"),)


class ImportPending(Base):
    """Id ranges of bulk-loaded interactions not yet folded into the stats (store/bulk.py)."""

    __tablename__ = "import_pending"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    lo: Mapped[int] = mapped_column(BigInteger)
    hi: Mapped[int] = mapped_column(BigInteger)


class ItemVectorRow(Base):
    """An item's text vector for the `local://` scorer, kept so requests never embed it.

    `digest` identifies the embedded text: an edited item is embedded again, an unchanged one
    never. `vector` holds float32 values, little-endian.
    """

    __tablename__ = "item_vectors"

    content_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]


class ApiKeyRow(Base):
    """A stored API key: only a hash of its secret part is kept."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(ID, primary_key=True)
    #: The public part of the key (`ciq_<key_id>_<secret>`), to find the row without the secret.
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditRow(Base):
    """Who did what, when: every admin action, kept apart from what it changed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_log_at", "at"),)


# -- impressions, online metrics and experiments (docs/experiments.md) ---------------------------
#: Aggregate keys use "" for "none" (no experiment, no model): primary keys cannot be NULL.
NAME = String(100)
VERSION = String(64)
#: Python None is SQL NULL (plain JSON stores the JSON text "null", which IS NOT NULL).
NULLABLE_JSON = JSON(none_as_null=True)
LIST_ID = String(32)


class ServedList(Base):
    """A list as served, stored once however many impressions showed it: a cached answer is
    served many times, and an impression row that only names its list costs the worker a
    fraction of one that carries it."""

    __tablename__ = "served_lists"

    #: A hash of `listing` (`store.online.list_key`).
    list_id: Mapped[str] = mapped_column(LIST_ID, primary_key=True)
    #: Its `served_list` JSON as served: `[[[content_id, score], ...], model version,
    #: experiment, arm, teams]`, position = index + 1. Text, as the worker receives it: only
    #: attribution reads it back.
    listing: Mapped[str] = mapped_column(Text)


class ImpressionRow(Base):
    """One served copy of a list, stored once by the worker; attribution marks what came of it."""

    __tablename__ = "impressions"

    recommendation_id: Mapped[str] = mapped_column(VERSION, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID)
    #: When it was shown, in ms since the epoch (as the batch carries it: no conversion per row).
    shown_ms: Mapped[int] = mapped_column(BigInteger)
    list_id: Mapped[str] = mapped_column(LIST_ID)
    #: Positions the client reported as rendered; NULL means all of them.
    seen: Mapped[list[int] | None] = mapped_column(NULLABLE_JSON)
    #: One bit per interaction type attributed so far (each rate counts an impression once).
    engaged: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: Positions clicked so far, in order; the first gives the reciprocal rank.
    clicked: Mapped[list[int] | None] = mapped_column(NULLABLE_JSON)

    __table_args__ = (Index("ix_impressions_user_time", "user_id", "shown_ms"),)


class ParkedReport(Base):
    """A click or seen report the worker applied before the impression it names (another
    partition or relay delivered that later): kept until the impression arrives, or dropped
    after `CONTEXTIQ_ATTRIBUTION_WAIT_SECONDS` (`store/parked.py`)."""

    __tablename__ = "parked_reports"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    recommendation_id: Mapped[str] = mapped_column(VERSION)
    user_id: Mapped[str] = mapped_column(ID)
    #: The event's type (`interaction` or `impression_seen`), and the event as sent.
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    parked_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_parked_reports_recommendation_id", "recommendation_id"),
        Index("ix_parked_reports_user_id", "user_id"),
        Index("ix_parked_reports_parked_at", "parked_at"),
    )


class OnlineDaily(Base):
    """Counts per day, model version and experiment arm; each rate counts impressions once."""

    __tablename__ = "online_daily"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    model_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    experiment: Mapped[str] = mapped_column(NAME, primary_key=True)
    arm: Mapped[str] = mapped_column(NAME, primary_key=True)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    items_shown: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    likes: Mapped[int] = mapped_column(BigInteger, default=0)
    saves: Mapped[int] = mapped_column(BigInteger, default=0)
    shares: Mapped[int] = mapped_column(BigInteger, default=0)
    dislikes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Sum over impressions of 1 / position of their first click.
    reciprocal_ranks: Mapped[float] = mapped_column(Float, default=0.0)


class OnlineUser(Base):
    """Who saw a list, per day and group: distinct users over any range of days."""

    __tablename__ = "online_users"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    model_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    experiment: Mapped[str] = mapped_column(NAME, primary_key=True)
    arm: Mapped[str] = mapped_column(NAME, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, primary_key=True)

    #: A user's rows for their export and erasure, and an interleaved experiment's users for
    #: its report: the key leads with the day.
    __table_args__ = (
        Index("ix_online_users_user", "user_id"),
        Index("ix_online_users_experiment", "experiment", "user_id"),
    )


class OnlineItem(Base):
    """Which items were served, per day and group: catalogue coverage over any range."""

    __tablename__ = "online_items"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    model_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    experiment: Mapped[str] = mapped_column(NAME, primary_key=True)
    arm: Mapped[str] = mapped_column(NAME, primary_key=True)
    content_id: Mapped[str] = mapped_column(ID, primary_key=True)

    #: An experiment's report reads its items (per arm, per day and arm) from these alone.
    __table_args__ = (
        Index("ix_online_items_experiment", "experiment", "arm", "content_id", "day"),
        Index("ix_online_items_experiment_day", "experiment", "day", "arm", "content_id"),
    )


class ExperimentRow(Base):
    __tablename__ = "experiments"

    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    #: [{"name", "weight", "config"}, ...]; the first arm is the control.
    arms: Mapped[list[Any]] = mapped_column(JSON)
    interleaving: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    #: The winner and verdict it ended with (stopped, or first reported on after `ends_at`);
    #: `verdict` NULL while it has not ended.
    winner: Mapped[str | None] = mapped_column(NAME)
    verdict: Mapped[str | None] = mapped_column(Text)
    #: The arm config made the default when it stopped, if any.
    promoted: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)

    __table_args__ = (Index("ix_experiments_starts", "starts_at"),)


class ExperimentArmStats(Base):
    """Per-arm counters, plus the per-user sums the clustered variance of CTR needs."""

    __tablename__ = "experiment_arm_stats"

    experiment: Mapped[str] = mapped_column(NAME, primary_key=True)
    arm: Mapped[str] = mapped_column(NAME, primary_key=True)
    users: Mapped[int] = mapped_column(BigInteger, default=0)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Sums over users of n², c² and n·c (n impressions, c clicked impressions per user).
    sum_n2: Mapped[float] = mapped_column(Float, default=0.0)
    sum_c2: Mapped[float] = mapped_column(Float, default=0.0)
    sum_nc: Mapped[float] = mapped_column(Float, default=0.0)
    #: Interleaved impressions this arm won (more of its items clicked) and tied.
    wins: Mapped[int] = mapped_column(BigInteger, default=0)
    ties: Mapped[int] = mapped_column(BigInteger, default=0)


class ExperimentUser(Base):
    __tablename__ = "experiment_users"

    experiment: Mapped[str] = mapped_column(NAME, primary_key=True)
    arm: Mapped[str] = mapped_column(NAME, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)

    #: A user's rows for their export and erasure: the key leads with the experiment.
    __table_args__ = (Index("ix_experiment_users_user", "user_id"),)


class RuleRow(Base):
    """An admin's promotion or boost (docs/rules.md): read by every replica, cached per process."""

    __tablename__ = "rules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filter: Mapped[str | None] = mapped_column(Text)
    factor: Mapped[float | None] = mapped_column(Float)
    share: Mapped[float | None] = mapped_column(Float)
    content_id: Mapped[str | None] = mapped_column(ID)
    position: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
