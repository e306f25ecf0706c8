"""The wire format of events is a contract between versions: old payloads still decode."""

from datetime import UTC, datetime

import pytest

from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import (
    SCHEMA_VERSION,
    InteractionRecorded,
    SessionMerged,
    UnknownEvent,
    decode_event,
    decode_events,
)

LIKE = Interaction(
    event_id="e1",
    user_id="u1",
    content_id="c1",
    interaction_type=InteractionType.LIKE,
    weight=3.0,
    occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)

#: A payload as the outbox wrote it before events carried `type` and `schema_version`.
V0_PAYLOAD = {
    "event_id": "e1",
    "user_id": "u1",
    "content_id": "c1",
    "interaction_type": "like",
    "weight": 3.0,
    "duration_seconds": None,
    "occurred_at": "2026-01-02T03:04:05+00:00",
}


def test_an_interaction_round_trips_through_the_wire() -> None:
    event = InteractionRecorded(LIKE)
    wire = event.to_wire()
    assert wire["type"] == "interaction"
    assert wire["schema_version"] == SCHEMA_VERSION
    assert decode_event(wire) == event
    assert (event.event_id, event.key) == ("e1", "u1")


def test_a_merge_round_trips_and_follows_the_sessions_partition() -> None:
    merge = SessionMerged("m1", "~session:s1", "u1", datetime(2026, 1, 2, tzinfo=UTC))
    wire = merge.to_wire()
    assert (wire["type"], wire["schema_version"]) == ("session_merged", SCHEMA_VERSION)
    assert decode_event(wire) == merge
    assert merge.key == "~session:s1"


def test_payloads_written_before_the_type_field_still_decode() -> None:
    assert decode_event(V0_PAYLOAD) == InteractionRecorded(LIKE)


@pytest.mark.parametrize(
    "payload",
    [
        {**V0_PAYLOAD, "type": "teleport"},
        {**V0_PAYLOAD, "schema_version": SCHEMA_VERSION + 1},
        {**V0_PAYLOAD, "interaction_type": "poke"},
        {k: v for k, v in V0_PAYLOAD.items() if k != "user_id"},
    ],
)
def test_unknown_or_malformed_payloads_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(UnknownEvent):
        decode_event(payload)


def test_a_delivered_batch_skips_what_it_cannot_read_and_keeps_the_rest() -> None:
    batch = [{**V0_PAYLOAD, "type": "teleport"}, V0_PAYLOAD]
    assert decode_events(batch) == [InteractionRecorded(LIKE)]
