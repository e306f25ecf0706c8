"""A cache in a SQLite file on this host (the `diskcache` library): shared by its processes.

`contextiq serve --workers N` needs one generation counter per user that every request process
sees, or an interaction taken by one leaves the others serving stale lists. Redis gives that
across hosts; this gives it on one host with nothing else to run, so the embedded defaults can
use every core. Reads are a local SQLite lookup (microseconds, no lock) and writes a short
transaction, so calls run inline like the in-process cache's.

Every entry carries a TTL and expired ones are removed as new ones are stored, so the file is
bounded by the request rate times the TTL; nothing is evicted early, so a counter is never lost
(a lost generation could bring back a list that an interaction had orphaned).
"""

import sqlite3
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TypeVar

import diskcache

from contextiq.cache.base import Cache, CacheUnavailable

T = TypeVar("T")


class DiskCache(Cache):
    backend = "disk"
    remote = False

    def __init__(self, directory: Path, timeout_seconds: float = 0.25) -> None:
        # The timeout bounds a wait for another process's write lock (held for microseconds);
        # past it the call fails like an unreachable Redis and the request is served uncached.
        self._cache = diskcache.Cache(
            str(directory), timeout=timeout_seconds, eviction_policy="none"
        )

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (diskcache.Timeout, sqlite3.Error, OSError) as exc:
            raise CacheUnavailable(f"disk cache: {exc}") from exc

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = self._call(lambda: self._cache.get(key))
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._call(lambda: self._cache.set(key, value, expire=ttl_seconds))

    async def set_many(self, values: Mapping[str, bytes], ttl_seconds: float) -> None:
        def write() -> None:
            with self._cache.transact():
                for key, value in values.items():
                    self._cache.set(key, value, expire=ttl_seconds)

        self._call(write)

    async def delete(self, key: str) -> None:
        self._call(lambda: self._cache.delete(key))

    async def delete_prefix(self, prefix: str) -> int:
        def scan() -> int:
            keys = [k for k in self._cache.iterkeys() if k.startswith(prefix)]
            return sum(bool(self._cache.delete(k)) for k in keys)

        return self._call(scan)

    async def incr(self, key: str) -> int:
        value: int = self._call(lambda: self._cache.incr(key))
        return value

    async def incr_many(self, keys: Collection[str]) -> None:
        def bump() -> None:
            with self._cache.transact():
                for key in keys:
                    self._cache.incr(key)

        self._call(bump)

    async def get_int(self, key: str) -> int:
        value: int = self._call(lambda: self._cache.get(key, default=0))
        return value

    async def ping(self) -> None:
        self._call(lambda: self._cache.get("ping"))

    async def close(self) -> None:
        self._cache.close()
