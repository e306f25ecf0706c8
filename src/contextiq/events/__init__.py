"""Event buses behind one interface, chosen by `CONTEXTIQ_EVENTS_URL`."""

from urllib.parse import urlsplit

from contextiq.events.base import BusUnavailable, EventBus, Handler
from contextiq.events.local import LocalBus

__all__ = ["BusUnavailable", "EventBus", "Handler", "LocalBus", "bus_from_url"]


def bus_from_url(url: str) -> EventBus:
    """`local://` (default) or `kafka://host:port[,host:port]?topic=interactions`."""
    scheme = urlsplit(url).scheme
    if scheme == "local":
        return LocalBus()
    if scheme == "kafka":
        from contextiq.events.kafka import KafkaBus

        return KafkaBus(url)
    raise ValueError(f"unsupported events URL scheme {scheme!r}; use local:// or kafka://")
