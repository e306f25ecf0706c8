"""The `kafka://` URL: hosts, topic, group and the consumer's timeouts, checked at start-up."""

import pytest

from contextiq.config import InvalidSettings, load_settings
from contextiq.events.kafka_url import KafkaConfig, parse_kafka_url


def test_a_url_names_hosts_topic_and_group_with_long_group_timeouts_by_default() -> None:
    assert parse_kafka_url("kafka://a:9092,b:9093?topic=clicks&partitions=3") == KafkaConfig(
        ["a:9092", "b:9093"],
        topic="clicks",
        partitions=3,
        group="contextiq-worker",
        # Longer than a training holds the event loop, so the group does not rebalance.
        session_timeout_ms=45_000,
        heartbeat_interval_ms=3_000,
    )


def test_the_url_may_set_the_group_timeouts() -> None:
    config = parse_kafka_url(
        "kafka://a:9092?group=g&session_timeout_ms=6000&heartbeat_interval_ms=1000"
    )
    assert (config.group, config.session_timeout_ms, config.heartbeat_interval_ms) == (
        "g",
        6_000,
        1_000,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://?topic=x", "kafka URL needs at least one host:port: 'kafka://?topic=x'"),
        (
            "kafka://a:9092?session_timeout=60000",
            "kafka URL: unknown parameter session_timeout; known: topic, partitions, group,"
            " session_timeout_ms, heartbeat_interval_ms",
        ),
        (
            "kafka://a:9092?partitions=many",
            "kafka URL: partitions must be a whole number above 0, not 'many'",
        ),
        (
            "kafka://a:9092?session_timeout_ms=3000",
            "kafka URL: heartbeat_interval_ms must be below session_timeout_ms",
        ),
    ],
)
def test_a_wrong_url_is_refused_in_one_line(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_kafka_url(url)
    assert str(caught.value) == message


def test_an_unknown_parameter_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTIQ_EVENTS_URL", "kafka://a:9092?sesion_timeout_ms=60000")
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert str(caught.value).splitlines() == [
        "CONTEXTIQ_EVENTS_URL: kafka URL: unknown parameter sesion_timeout_ms; known: topic,"
        " partitions, group, session_timeout_ms, heartbeat_interval_ms"
    ]


async def test_the_consumer_joins_its_group_with_the_urls_timeouts() -> None:
    from contextiq.events.kafka import KafkaBus

    bus = KafkaBus("kafka://127.0.0.1:9?session_timeout_ms=60000&heartbeat_interval_ms=2000")
    consumer, _ = bus._consumer()  # built, never started: no broker is contacted
    try:
        assert (consumer._session_timeout_ms, consumer._heartbeat_interval_ms) == (60_000, 2_000)
    finally:
        await consumer.stop()
