"""Event buses behind one interface, opened by `CONTEXTIQ_EVENTS_URL`."""

from collections.abc import Callable

from contextiq.backends import SchemeRegistry
from contextiq.events.base import BusUnavailable, EventBus, Handler
from contextiq.events.kafka_url import parse_kafka_url
from contextiq.events.local import LocalBus

__all__ = [
    "BUSES",
    "BusUnavailable",
    "EventBus",
    "Handler",
    "LocalBus",
    "check_bus_url",
    "open_bus",
]


def _local(url: str) -> EventBus:
    """`local://`: in-process delivery, for one process that is both API and worker."""
    return LocalBus()


def _kafka(url: str) -> EventBus:
    """`kafka://host:port[,host:port]?topic=interactions`: between processes and hosts
    (parameters: `events/kafka_url.py`)."""
    from contextiq.events.kafka import KafkaBus

    return KafkaBus(url)


BUSES = SchemeRegistry[Callable[[str], EventBus]]("events", {"local": _local, "kafka": _kafka})


def open_bus(url: str) -> EventBus:
    """The bus the URL names; `UnknownScheme` lists the known schemes otherwise."""
    return BUSES.factory(url)(url)


def check_bus_url(url: str) -> None:
    """Refuse at start-up what `open_bus` would refuse, without connecting: an unknown
    scheme, a Kafka URL without hosts or with an unknown or bad parameter."""
    if BUSES.factory(url) is _kafka:
        parse_kafka_url(url)
