"""A worker reports the lag of the partitions it owns now, not of those it owned once."""

from typing import Any

from aiokafka import TopicPartition

from contextiq.events.kafka import _OnAssignment
from contextiq.observability.events import record_consumer_lag
from contextiq.observability.metrics import CONSUMER_LAG

TOPIC = "interactions"


class _Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class _Consumer:
    """What record_consumer_lag and the rebalance listener ask of an AIOKafkaConsumer."""

    def __init__(self, highwater: int) -> None:
        self._highwater = highwater

    def highwater(self, _tp: TopicPartition) -> int:
        return self._highwater

    def assignment(self) -> set[TopicPartition]:
        return set()


def _reported() -> dict[str, float]:
    return {
        sample.labels["partition"]: sample.value
        for family in CONSUMER_LAG.collect()
        for sample in family.samples
    }


async def test_revoked_partitions_leave_the_lag_series() -> None:
    consumer: Any = _Consumer(highwater=60_001)
    p0, p1 = TopicPartition(TOPIC, 900), TopicPartition(TOPIC, 901)
    await record_consumer_lag(consumer, {p0: [_Record(0)], p1: [_Record(60_000)]})
    assert {"900": 60_000, "901": 0}.items() <= _reported().items()
    # A rebalance gives partition 900 to another worker, which reports it from then on.
    await _OnAssignment(consumer).on_partitions_revoked({p0})
    assert "900" not in _reported()
    assert _reported()["901"] == 0
    await _OnAssignment(consumer).on_partitions_revoked({p0, p1})  # and one never read
    assert not {"900", "901"} & _reported().keys()
