"""In-process TTL/LRU cache: the embedded default.

Counters with a lifetime keep their deadlines in the order they were last touched: each caller
uses one lifetime, so that is also the order they fall due in, and every bump and every store
under a counter drops the overdue ones from the front (amortized O(1)), so idle counters hold
no memory. A counter past its deadline reads 0 even before the dropping reaches it.
"""

import time
from collections import OrderedDict

from contextiq.cache.base import Cache


class MemoryCache(Cache):
    backend = "memory"
    remote = False

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._counters: dict[str, int] = {}
        #: When each counter with a lifetime is forgotten (monotonic clock), oldest touch first.
        self._deadlines: OrderedDict[str, float] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def set_if_counter(
        self,
        counter: str,
        expected: int,
        key: str,
        value: bytes,
        ttl_seconds: float,
        forget_after: float | None = None,
    ) -> bool:
        # No await between the check and the write: atomic on the event loop.
        now = self._forget_overdue()
        if self._count(counter, now) != expected:
            return False
        await self.set(key, value, ttl_seconds)
        # Only a live counter with a lifetime: one forgotten, not yet dropped, stays forgotten.
        if forget_after is not None and self._deadlines.get(counter, now) > now:
            self._keep(counter, now + forget_after)
        return True

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)
        self._counters.pop(key, None)
        self._deadlines.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        now = time.monotonic()
        keys = [k for k in (*self._entries, *self._counters) if k.startswith(prefix)]
        forgotten = sum(self._forgotten(k, now) for k in keys)
        for key in keys:
            await self.delete(key)
        return len(keys) - forgotten

    async def incr(self, key: str, forget_after: float | None = None) -> int:
        now = self._forget_overdue()
        value = self._count(key, now) + 1
        self._counters[key] = value
        if forget_after is None:
            self._deadlines.pop(key, None)
        else:
            self._keep(key, now + forget_after)
        return value

    async def get_int(self, key: str) -> int:
        return self._count(key, time.monotonic())

    async def ping(self) -> None:
        return None

    def _forgotten(self, key: str, now: float) -> bool:
        deadline = self._deadlines.get(key)
        return deadline is not None and deadline <= now

    def _count(self, key: str, now: float) -> int:
        return 0 if self._forgotten(key, now) else self._counters.get(key, 0)

    def _keep(self, counter: str, deadline: float) -> None:
        self._deadlines[counter] = deadline
        self._deadlines.move_to_end(counter)

    def _forget_overdue(self) -> float:
        """Drop the counters whose deadline passed, from the front; returns the time now."""
        now = time.monotonic()
        while self._deadlines:
            key, deadline = next(iter(self._deadlines.items()))
            if deadline > now:
                break
            del self._deadlines[key], self._counters[key]
        return now
