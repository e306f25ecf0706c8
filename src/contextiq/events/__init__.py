"""Event buses behind one interface, opened by `CONTEXTIQ_EVENTS_URL`."""

from collections.abc import Callable

from contextiq.backends import SchemeRegistry
from contextiq.events.base import BusUnavailable, EventBus, Handler
from contextiq.events.local import LocalBus

__all__ = ["BUSES", "BusUnavailable", "EventBus", "Handler", "LocalBus", "open_bus"]


def _local(url: str) -> EventBus:
    """`local://`: in-process delivery, for one process that is both API and worker."""
    return LocalBus()


def _kafka(url: str) -> EventBus:
    """`kafka://host:port[,host:port]?topic=interactions`: between processes and hosts."""
    from contextiq.events.kafka import KafkaBus

    return KafkaBus(url)


BUSES = SchemeRegistry[Callable[[str], EventBus]]("events", {"local": _local, "kafka": _kafka})


def open_bus(url: str) -> EventBus:
    """The bus the URL names; `UnknownScheme` lists the known schemes otherwise."""
    return BUSES.factory(url)(url)
