"""The events that cross the bus: frozen types with one wire format each.

The wire format is a contract between processes of different versions (a rolling upgrade runs
old and new side by side, and Kafka keeps old payloads): every payload carries `type` and
`schema_version`; a payload written before those fields existed decodes as an interaction.
A new kind of event adds a class here and an entry in `_DECODERS`.
"""

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from contextiq.domain import Interaction, InteractionType

SCHEMA_VERSION = 1


class UnknownEvent(ValueError):
    """A payload of a type or schema version this process does not know."""


@dataclass(frozen=True, slots=True)
class InteractionRecorded:
    """A user interacted with an item; applied to stats once per `event_id`."""

    type: ClassVar[str] = "interaction"
    interaction: Interaction

    @property
    def event_id(self) -> str:
        return self.interaction.event_id

    @property
    def key(self) -> str:
        """Partition key: one user's events stay in order."""
        return self.interaction.user_id

    def to_wire(self) -> dict[str, Any]:
        i = self.interaction
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": i.event_id,
            "user_id": i.user_id,
            "content_id": i.content_id,
            "interaction_type": i.interaction_type.value,
            "weight": i.weight,
            "duration_seconds": i.duration_seconds,
            "occurred_at": i.occurred_at.isoformat(),
            "request_id": i.request_id,
            "recommendation_id": i.recommendation_id,
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "InteractionRecorded":
        return cls(
            Interaction(
                event_id=payload["event_id"],
                user_id=payload["user_id"],
                content_id=payload["content_id"],
                interaction_type=InteractionType(payload["interaction_type"]),
                weight=float(payload["weight"]),
                occurred_at=datetime.fromisoformat(payload["occurred_at"]),
                duration_seconds=payload.get("duration_seconds"),
                request_id=payload.get("request_id"),
                recommendation_id=payload.get("recommendation_id"),
            )
        )


@dataclass(frozen=True, slots=True)
class UserDeleted:
    """A user's data was erased; every consumer forgets them (stats, caches, next model).

    `event_id` is random, never derived from the user id: it outlives the erasure in
    `processed_events`.
    """

    type: ClassVar[str] = "user_deleted"
    event_id: str
    user_id: str
    requested_at: datetime

    @property
    def key(self) -> str:
        """Same partition as the user's interactions, so it arrives after them."""
        return self.user_id

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "user_id": self.user_id,
            "requested_at": self.requested_at.isoformat(),
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "UserDeleted":
        return cls(
            event_id=payload["event_id"],
            user_id=payload["user_id"],
            requested_at=datetime.fromisoformat(payload["requested_at"]),
        )


@dataclass(frozen=True, slots=True)
class ImpressionRecorded:
    """A list was served: its items in order (position = index + 1) with their scores.

    `teams` is set for an interleaved list: the arm each position came from. The impression's
    own id makes it idempotent: the worker stores each `recommendation_id` once.
    """

    type: ClassVar[str] = "impression"
    recommendation_id: str
    user_id: str
    items: tuple[tuple[str, float], ...]
    shown_at: datetime
    model_version: str | None = None
    experiment: str | None = None
    arm: str | None = None
    teams: tuple[str, ...] | None = None

    @property
    def event_id(self) -> str:
        return self.recommendation_id

    @property
    def key(self) -> str:
        """The user's partition: an impression is applied before that user's later clicks."""
        return self.user_id

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": self.recommendation_id,
            "user_id": self.user_id,
            "items": [list(i) for i in self.items],
            "shown_at": self.shown_at.isoformat(),
            "model_version": self.model_version,
            "experiment": self.experiment,
            "arm": self.arm,
            "teams": None if self.teams is None else list(self.teams),
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "ImpressionRecorded":
        teams = payload.get("teams")
        return cls(
            recommendation_id=payload["event_id"],
            user_id=payload["user_id"],
            items=tuple((str(c), float(s)) for c, s in payload["items"]),
            shown_at=datetime.fromisoformat(payload["shown_at"]),
            model_version=payload.get("model_version"),
            experiment=payload.get("experiment"),
            arm=payload.get("arm"),
            teams=None if teams is None else tuple(str(t) for t in teams),
        )


@dataclass(frozen=True, slots=True)
class ImpressionSeen:
    """The client rendered only some positions of a served list; the first report counts."""

    type: ClassVar[str] = "impression_seen"
    recommendation_id: str
    user_id: str
    positions: tuple[int, ...]

    @property
    def event_id(self) -> str:
        return f"seen:{self.recommendation_id}"

    @property
    def key(self) -> str:
        return self.user_id

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "recommendation_id": self.recommendation_id,
            "user_id": self.user_id,
            "positions": list(self.positions),
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "ImpressionSeen":
        return cls(
            recommendation_id=payload["recommendation_id"],
            user_id=payload["user_id"],
            positions=tuple(int(p) for p in payload["positions"]),
        )


@dataclass(frozen=True, slots=True)
class SessionMerged:
    """An anonymous session's interactions now belong to a user (`POST /users/{id}/merge`).

    The store moved the rows when the event was written; consumers move what they keep per
    subject (the session's counters go to the user's). `session` is the stored subject
    (`domain.session_subject`).
    """

    type: ClassVar[str] = "session_merged"
    event_id: str
    session: str
    user_id: str
    merged_at: datetime

    @property
    def key(self) -> str:
        """The session's partition, so it arrives after the session's own events."""
        return self.session

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "session": self.session,
            "user_id": self.user_id,
            "merged_at": self.merged_at.isoformat(),
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "SessionMerged":
        return cls(
            event_id=payload["event_id"],
            session=payload["session"],
            user_id=payload["user_id"],
            merged_at=datetime.fromisoformat(payload["merged_at"]),
        )


@dataclass(frozen=True, slots=True)
class RetrainRequested:
    """An admin asked for a training round (`POST /models/retrain`); a consuming worker starts
    it. The API process that took the request never trains: its memory is sized for serving,
    and a round at millions of events needs gigabytes (DEPLOYMENT.md, resource sizes).
    """

    type: ClassVar[str] = "retrain_requested"
    event_id: str
    requested_at: datetime

    @property
    def key(self) -> str:
        """One partition for every request: one worker of the group hears each."""
        return self.type

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "requested_at": self.requested_at.isoformat(),
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "RetrainRequested":
        return cls(
            event_id=payload["event_id"],
            requested_at=datetime.fromisoformat(payload["requested_at"]),
        )


def served_list(
    items: Sequence[tuple[str, float]],
    model_version: str | None,
    experiment: str | None,
    arm: str | None,
    teams: Sequence[str] | None,
) -> str:
    """What an impression of a list records, as JSON: `[[[content_id, score], ...], model
    version, experiment, arm, teams]`. A cached answer keeps it, so each copy served from the
    cache names it as it is, without decoding or encoding items again."""
    return orjson.dumps([items, model_version, experiment, arm, teams]).decode()


def list_head(listed: str) -> "ListHead":
    """A `served_list` decoded, checked for shape, items left as the JSON arrays they are;
    raises `ValueError` or `TypeError` for a malformed one."""
    items, version, experiment, arm, teams = orjson.loads(listed)
    if not isinstance(items, list) or not all(type(i) is list and len(i) == 2 for i in items):
        raise ValueError("items must be [content_id, score] pairs")
    if teams is not None and not isinstance(teams, list):
        raise ValueError("teams must be a list")
    return items, version, experiment, arm, teams


def from_ms(at: int) -> datetime:
    return datetime.fromtimestamp(at / 1000, UTC)


#: A served list's impression fields: items ([content_id, score] pairs), model version,
#: experiment, arm, teams.
ListHead = tuple[list[list[Any]], str | None, str | None, str | None, list[str] | None]


@dataclass(frozen=True, slots=True)
class ImpressionBatch:
    """The impressions of one group commit in one outbox row: per impression its id, user,
    time (ms since the epoch) and which of `lists` it showed; each distinct list once.

    The worker applies a batch as a unit, once per `event_id` (`processed_events`), so an
    impression costs an executemany row, not an event of its own.
    """

    type: ClassVar[str] = "impressions"
    event_id: str
    #: `served_list` JSON strings.
    lists: tuple[str, ...]
    #: (recommendation_id, user_id, index into `lists`, shown at in ms since the epoch).
    shown: tuple[tuple[str, str, int, int], ...]

    @classmethod
    def of(
        cls, shown: Iterable[tuple[str, str, str, int]], event_id: str | None = None
    ) -> "ImpressionBatch":
        """A batch from (recommendation_id, user_id, served_list JSON, ms) per impression."""
        lists: dict[str, int] = {}
        rows = tuple(
            (rid, user, lists.setdefault(listed, len(lists)), at) for rid, user, listed, at in shown
        )
        return cls(event_id or f"{cls.type}-{os.urandom(16).hex()}", tuple(lists), rows)

    @property
    def key(self) -> str:
        """Its own id, naming no user: a batch spans users, and a keyed bus splits it by
        partition (`split`); erasing a user edits the batches that name them instead."""
        return self.event_id

    def without_user(self, user_id: str) -> "ImpressionBatch":
        """The batch less one user's impressions (same id); empty if only theirs."""
        return self._keeping(lambda user: user != user_id)

    def of_user(self, user_id: str) -> "ImpressionBatch":
        """One user's impressions alone, with the lists they name (same id): what the batch
        holds about them, without the others it names."""
        return self._keeping(lambda user: user == user_id)

    def _keeping(self, keep: Callable[[str], bool]) -> "ImpressionBatch":
        return ImpressionBatch.of(
            (
                (rid, user, self.lists[index], at)
                for rid, user, index, at in self.shown
                if keep(user)
            ),
            self.event_id,
        )

    def split(self, partition_of: Callable[[str], int]) -> dict[int, "ImpressionBatch"]:
        """One batch per partition of its users' keys, so an impression stays ahead of that
        user's later interactions on a partitioned bus. The parts' ids derive from the
        batch's, so a batch published again splits into the same, deduplicated, parts."""
        parts: dict[int, list[tuple[str, str, int, int]]] = {}
        for row in self.shown:
            parts.setdefault(partition_of(row[1]), []).append(row)
        if len(parts) == 1:
            return {next(iter(parts)): self}
        return {
            part: ImpressionBatch.of(
                ((rid, user, self.lists[index], at) for rid, user, index, at in rows),
                f"{self.event_id}/{part}",
            )
            for part, rows in parts.items()
        }

    def heads(self) -> list[ListHead]:
        """Each list decoded; raises `UnknownEvent` for a malformed one."""
        try:
            return [list_head(listed) for listed in self.lists]
        except (TypeError, ValueError) as exc:
            raise UnknownEvent(f"malformed {self.type!r} event: {exc!r}") from exc

    def impressions(self) -> list[ImpressionRecorded]:
        """The batch as single impressions (what it carries, in the older wire form)."""
        heads = [
            (
                tuple((str(c), float(s)) for c, s in items),
                version,
                experiment,
                arm,
                None if teams is None else tuple(str(t) for t in teams),
            )
            for items, version, experiment, arm, teams in self.heads()
        ]
        return [
            ImpressionRecorded(rid, user, heads[index][0], from_ms(at), *heads[index][1:])
            for rid, user, index, at in self.shown
        ]

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "lists": list(self.lists),
            "shown": [list(row) for row in self.shown],
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> "ImpressionBatch":
        lists = tuple(str(listed) for listed in payload["lists"])
        shown = tuple((str(r), str(u), int(i), int(t)) for r, u, i, t in payload["shown"])
        if any(not 0 <= row[2] < len(lists) for row in shown):
            raise ValueError("an impression names a list the batch does not hold")
        return cls(str(payload["event_id"]), lists, shown)


#: Every event type; widen this union as event types are added.
Event = (
    InteractionRecorded
    | UserDeleted
    | ImpressionRecorded
    | ImpressionSeen
    | ImpressionBatch
    | SessionMerged
    | RetrainRequested
)

_DECODERS: dict[str, type[Event]] = {
    InteractionRecorded.type: InteractionRecorded,
    UserDeleted.type: UserDeleted,
    ImpressionRecorded.type: ImpressionRecorded,
    ImpressionSeen.type: ImpressionSeen,
    SessionMerged.type: SessionMerged,
    ImpressionBatch.type: ImpressionBatch,
    RetrainRequested.type: RetrainRequested,
}


#: Every event type's wire name (a metric's label values: each series exists from the start).
EVENT_TYPES: tuple[str, ...] = tuple(_DECODERS)


def decode_event(payload: dict[str, Any]) -> Event:
    """The typed event for a wire payload; raises `UnknownEvent` for what this version lacks."""
    if not isinstance(payload, dict):  # JSON, but not an event's object
        raise UnknownEvent(f"not an event object: {type(payload).__name__}")
    kind = payload.get("type", InteractionRecorded.type)
    version = payload.get("schema_version", 1)
    decoder = _DECODERS.get(kind)
    if decoder is None or not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UnknownEvent(f"cannot decode event type {kind!r} schema version {version!r}")
    try:
        return decoder.from_wire(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnknownEvent(f"malformed {kind!r} event: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A delivered payload this version cannot decode: a newer version's event (a rolling
    upgrade runs old workers beside a new API), or a damaged one.

    It is never skipped while it names an event id: the worker sets it aside as a dead letter
    with the payload as sent (`worker/dead_letters.py`), and a version that reads it replays
    it. Only a payload with no event id (not JSON, not an event's object) is logged and
    dropped: nothing could apply or replay it.
    """

    #: The decoded JSON as delivered; None when the record was not JSON.
    payload: Any
    reason: str

    @property
    def event_id(self) -> str | None:
        found = self.payload.get("event_id") if isinstance(self.payload, dict) else None
        return found if isinstance(found, str) and found else None


#: What a bus hands its consumer: the events this version reads, and those it cannot.
Delivered = Event | Unreadable


def decode_events(payloads: Iterable[Any]) -> list[Delivered]:
    """Decode a delivered batch, in order; a payload this version cannot read comes as
    `Unreadable` for the consumer to set aside: skipping it would lose it for good."""
    delivered: list[Delivered] = []
    for payload in payloads:
        try:
            delivered.append(decode_event(payload))
        except UnknownEvent as exc:
            delivered.append(Unreadable(payload, f"{UnknownEvent.__name__}: {exc}"))
    return delivered


def decode_records(values: Iterable[bytes | None]) -> list[Delivered]:
    """Decode a batch as the broker delivered it; a record that is not JSON (truncated, a
    tombstone) comes as `Unreadable` with no payload."""
    delivered: list[Delivered] = []
    for value in values:
        try:
            payload = orjson.loads(value)  # type: ignore[arg-type]
        except orjson.JSONDecodeError as exc:
            delivered.append(Unreadable(None, f"not JSON: {exc}"))
            continue
        delivered.extend(decode_events([payload]))
    return delivered
