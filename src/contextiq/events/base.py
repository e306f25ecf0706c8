"""The event bus between the API's outbox and the worker."""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

from contextiq.events.types import Delivered
from contextiq.store.records import OutboxEvent

#: Takes a delivered batch, including what this version cannot read (`Unreadable`).
Handler = Callable[[list[Delivered]], Awaitable[None]]


class BusUnavailable(Exception):
    """The broker could not take the events; the relay keeps them and retries."""


class EventBus(ABC):
    """Publishes outbox events and delivers them, at least once, to a handler."""

    backend: str

    @abstractmethod
    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        """Return only once every event is durably handed over; raise otherwise."""

    @abstractmethod
    async def consume(self, handler: Handler) -> None:
        """Deliver batches to `handler` until cancelled; acknowledge after it returns."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise BusUnavailable when the bus cannot take events."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
