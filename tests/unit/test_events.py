"""The wire format of events is a contract between versions: old payloads still decode."""

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from contextiq.domain import Interaction, InteractionType
from contextiq.events.kafka import KafkaBus, _OnAssignment, keyed
from contextiq.events.types import (
    SCHEMA_VERSION,
    Delivered,
    ImpressionBatch,
    ImpressionRecorded,
    InteractionRecorded,
    RetrainRequested,
    SessionMerged,
    UnknownEvent,
    Unreadable,
    decode_event,
    decode_events,
    decode_records,
    served_list,
)
from contextiq.store.records import OutboxEvent

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


def test_a_retrain_request_round_trips_on_one_partition() -> None:
    request = RetrainRequested("r1", datetime(2026, 1, 2, tzinfo=UTC))
    wire = request.to_wire()
    assert (wire["type"], wire["schema_version"]) == ("retrain_requested", SCHEMA_VERSION)
    assert decode_event(wire) == request
    assert request.key == RetrainRequested("r2", datetime(2026, 2, 1, tzinfo=UTC)).key


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


def test_a_delivered_batch_hands_on_what_it_cannot_read_in_its_place() -> None:
    """For the worker to set aside (old code skipped it, and it was lost for good)."""
    teleport = {**V0_PAYLOAD, "type": "teleport"}
    unreadable, event = decode_events([teleport, V0_PAYLOAD])
    assert event == InteractionRecorded(LIKE)
    assert isinstance(unreadable, Unreadable) and unreadable.payload == teleport
    assert unreadable.event_id == V0_PAYLOAD["event_id"]
    assert unreadable.reason == "UnknownEvent: cannot decode event type 'teleport' schema version 1"


def test_a_record_that_is_not_json_comes_with_no_event_id() -> None:
    tombstone, garbled, event = decode_records([None, b"{not json", orjson.dumps(V0_PAYLOAD)])
    assert event == InteractionRecorded(LIKE)
    for unread in (tombstone, garbled):
        assert isinstance(unread, Unreadable) and (unread.payload, unread.event_id) == (None, None)


LIST_AB = served_list([("a", 0.9), ("b", 0.5)], "v1", "exp", "x", None)
LIST_C = served_list([("c", 0.7)], "v1", None, None, None)

#: An impression as the outbox wrote it one row per served list (before batches).
V1_IMPRESSION = {
    "type": "impression",
    "schema_version": 1,
    "event_id": "r1",
    "user_id": "u1",
    "items": [["a", 0.9], ["b", 0.5]],
    "shown_at": "2026-01-02T03:04:05+00:00",
    "model_version": "v1",
    "experiment": "exp",
    "arm": "x",
    "teams": None,
}


def test_single_impression_payloads_still_decode() -> None:
    event = decode_event(V1_IMPRESSION)
    assert event == ImpressionRecorded(
        "r1",
        "u1",
        (("a", 0.9), ("b", 0.5)),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "v1",
        "exp",
        "x",
    )


def test_an_impression_batch_holds_each_list_once_and_round_trips() -> None:
    batch = ImpressionBatch.of(
        [("r1", "u1", LIST_AB, 1_000), ("r2", "u2", LIST_C, 2_000), ("r3", "u1", LIST_AB, 3_000)]
    )
    assert batch.lists == (LIST_AB, LIST_C)
    assert [row[2] for row in batch.shown] == [0, 1, 0]
    wire = batch.to_wire()
    assert (wire["type"], wire["schema_version"]) == ("impressions", SCHEMA_VERSION)
    assert decode_event(wire) == batch
    assert decode_events([wire]) == [batch]
    r1, r2, r3 = batch.impressions()
    assert r1 == ImpressionRecorded(
        "r1", "u1", (("a", 0.9), ("b", 0.5)), datetime.fromtimestamp(1, UTC), "v1", "exp", "x"
    )
    assert (r2.items, r2.experiment, r3.recommendation_id) == ((("c", 0.7),), None, "r3")


def test_a_batch_splits_by_partition_into_the_same_parts_every_time() -> None:
    batch = ImpressionBatch.of(
        [(f"r{n}", f"u{n}", LIST_AB if n % 2 else LIST_C, n) for n in range(6)]
    )
    parts = batch.split(lambda user: int(user[1:]) % 3)
    assert sorted(parts) == [0, 1, 2]
    assert parts == batch.split(lambda user: int(user[1:]) % 3)  # ids derive from the batch's
    assert {p.event_id for p in parts.values()} == {f"{batch.event_id}/{k}" for k in range(3)}
    shown = [i for p in parts.values() for i in p.impressions()]
    key = lambda i: i.recommendation_id  # noqa: E731
    assert sorted(shown, key=key) == sorted(batch.impressions(), key=key)
    assert batch.split(lambda _: 4) == {4: batch}


@pytest.mark.parametrize(
    "change",
    [
        {"lists": ['{"not": "a list"}']},
        {"lists": ['[[["a"]], null, null, null, null]']},
        {"lists": ['[[], null, null, null, "x"]']},
        {"lists": ["not json"]},
    ],
)
def test_a_batch_with_a_malformed_list_is_refused(change: dict[str, object]) -> None:
    wire = ImpressionBatch.of([("r1", "u1", LIST_C, 1)]).to_wire() | change
    with pytest.raises(UnknownEvent):
        decode_event(wire).heads()  # type: ignore[union-attr]


def test_a_batch_naming_a_missing_list_is_refused() -> None:
    wire = ImpressionBatch.of([("r1", "u1", LIST_C, 1)]).to_wire()
    with pytest.raises(UnknownEvent):
        decode_event(wire | {"shown": [["r1", "u1", 1, 1]]})


def test_kafka_sends_a_batch_split_as_the_default_partitioner_places_its_users() -> None:
    batch = ImpressionBatch.of([(f"r{n}", f"user-{n}", LIST_C, n) for n in range(40)])
    row = OutboxEvent(id=1, key=batch.key, payload=batch.to_wire())
    partitions = [0, 1, 2, 3]
    sent = keyed(row, partitions)
    assert len(sent) == 4
    for partition, _, payload in sent:
        part = decode_event(payload)
        assert isinstance(part, ImpressionBatch)
        for _, user, _, _ in part.shown:
            assert DefaultPartitioner()(user.encode(), partitions, partitions) == partition
    assert sum(len(decode_event(p).shown) for _, _, p in sent) == 40  # type: ignore[union-attr]
    interaction = OutboxEvent(id=2, key="u1", payload=V0_PAYLOAD)
    assert keyed(interaction, partitions) == [(None, "u1", V0_PAYLOAD)]


class _Record:
    def __init__(self, offset: int, value: bytes | None) -> None:
        self.offset = offset
        self.value = value


class _OnePoll:
    """A consumer whose one poll hands over `values`; the next poll stops the loop."""

    def __init__(self, values: list[bytes | None]) -> None:
        self.tp = TopicPartition("interactions", 0)
        self.records = [_Record(n, v) for n, v in enumerate(values)]
        self.polls = 0
        self.committed: dict[TopicPartition, int] = {}

    async def getmany(self, **_: object) -> dict[TopicPartition, list[_Record]]:
        self.polls += 1
        if self.polls > 1:
            raise asyncio.CancelledError
        return {self.tp: self.records}

    def highwater(self, _: TopicPartition) -> int:
        return len(self.records)

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)


async def test_kafka_hands_on_a_record_that_is_not_an_event_and_commits_past_it() -> None:
    """A truncated, non-JSON or non-object record reaches the handler as `Unreadable` (the
    worker's drops it: it names no event id); older code raised from the decode, so the
    consumer reconnected, read the same record again and stopped its partition for good."""
    good = orjson.dumps(V0_PAYLOAD)
    consumer = _OnePoll([good[:20], good, None, b"[1, 2]", b"\xff\xfe"])
    delivered: list[Delivered] = []

    async def handler(batch: list[Delivered]) -> None:
        delivered.extend(batch)

    bus = KafkaBus("kafka://127.0.0.1:9092?topic=interactions")
    with pytest.raises(asyncio.CancelledError):
        await bus._consume_with(consumer, _OnAssignment(consumer), handler)
    assert [e for e in delivered if not isinstance(e, Unreadable)] == [InteractionRecorded(LIKE)]
    assert [e.event_id for e in delivered if isinstance(e, Unreadable)] == [None] * 4
    assert consumer.committed == {consumer.tp: 5}
