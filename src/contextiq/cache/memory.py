"""In-process TTL/LRU cache: the embedded default."""

import time
from collections import OrderedDict

from contextiq.cache.base import Cache


class MemoryCache(Cache):
    backend = "memory"
    remote = False

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._counters: dict[str, int] = {}
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
        self, counter: str, expected: int, key: str, value: bytes, ttl_seconds: float
    ) -> bool:
        # No await between the check and the write: atomic on the event loop.
        if self._counters.get(counter, 0) != expected:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)
        self._counters.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        keys = [k for k in (*self._entries, *self._counters) if k.startswith(prefix)]
        for key in keys:
            await self.delete(key)
        return len(keys)

    async def incr(self, key: str) -> int:
        value = self._counters.get(key, 0) + 1
        self._counters[key] = value
        return value

    async def get_int(self, key: str) -> int:
        return self._counters.get(key, 0)

    async def ping(self) -> None:
        return None
