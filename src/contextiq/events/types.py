"""The events that cross the bus: frozen types with one wire format each.

The wire format is a contract between processes of different versions (a rolling upgrade runs
old and new side by side, and Kafka keeps old payloads): every payload carries `type` and
`schema_version`; a payload written before those fields existed decodes as an interaction.
A new kind of event adds a class here and an entry in `_DECODERS`.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from contextiq.domain import Interaction, InteractionType

SCHEMA_VERSION = 1

log = logging.getLogger(__name__)


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


#: Every event type; widen this union as event types are added.
Event = InteractionRecorded | UserDeleted

_DECODERS: dict[str, type[Event]] = {
    InteractionRecorded.type: InteractionRecorded,
    UserDeleted.type: UserDeleted,
}


def decode_event(payload: dict[str, Any]) -> Event:
    """The typed event for a wire payload; raises `UnknownEvent` for what this version lacks."""
    kind = payload.get("type", InteractionRecorded.type)
    version = payload.get("schema_version", 1)
    decoder = _DECODERS.get(kind)
    if decoder is None or not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UnknownEvent(f"cannot decode event type {kind!r} schema version {version!r}")
    try:
        return decoder.from_wire(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnknownEvent(f"malformed {kind!r} event: {exc!r}") from exc


def decode_events(payloads: Iterable[dict[str, Any]]) -> list[Event]:
    """Decode a delivered batch; a payload this version cannot read is logged and skipped,
    since redelivering it forever would stop every event behind it."""
    events: list[Event] = []
    for payload in payloads:
        try:
            events.append(decode_event(payload))
        except UnknownEvent as exc:
            log.warning("skipping an event this version cannot read: %s", exc)
    return events
