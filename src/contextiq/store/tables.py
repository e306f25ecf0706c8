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
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(128)
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

    __table_args__ = (
        Index("ix_content_category_created", "category", "created_at"),
        Index("ix_content_created", "created_at"),
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
        Index("ix_interactions_user_time", "user_id", "occurred_at"),
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
    )


class ProcessedEvent(Base):
    """Event ids the worker has applied; makes consumers idempotent."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    processed_at: Mapped[datetime]


class UserStats(Base):
    """Per-user, per-type counters maintained by the worker."""

    __tablename__ = "user_stats"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    interaction_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class ContentStats(Base):
    """Time-decayed popularity; `score` is worth `score * 2^-(now - updated_at)/half_life`."""

    __tablename__ = "content_stats"

    content_id: Mapped[str] = mapped_column(ID, primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_content_stats_score", "score"),)


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
