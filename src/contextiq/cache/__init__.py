"""Cache backends behind one interface, opened by `CONTEXTIQ_CACHE_URL`."""

from pathlib import Path
from typing import Protocol

from contextiq.backends import SchemeRegistry
from contextiq.cache.base import Cache, CacheUnavailable
from contextiq.cache.memory import MemoryCache

__all__ = ["CACHES", "Cache", "CacheUnavailable", "MemoryCache", "open_cache"]


class CacheFactory(Protocol):
    def __call__(self, url: str, *, max_entries: int) -> Cache: ...


def _memory(url: str, *, max_entries: int) -> Cache:
    """`memory://`: in-process, bounded to `max_entries`."""
    return MemoryCache(max_entries)


def _disk(url: str, *, max_entries: int) -> Cache:
    """`disk:///path/to/cache.db`: a SQLite file shared by the processes of this host."""
    from contextiq.cache.disk import DiskCache

    path = url.split("://", 1)[1]
    if not path:
        raise ValueError("disk:// names the cache's file, e.g. disk:///var/lib/contextiq/cache.db")
    return DiskCache(Path(path))


def _redis(url: str, *, max_entries: int) -> Cache:
    """`redis://host:port/db` (`rediss://` for TLS): shared by every replica."""
    from contextiq.cache.redis import RedisCache

    return RedisCache(url)


CACHES = SchemeRegistry[CacheFactory](
    "cache", {"memory": _memory, "disk": _disk, "redis": _redis, "rediss": _redis}
)


def open_cache(url: str, max_entries: int = 100_000) -> Cache:
    """The cache the URL names; `UnknownScheme` lists the known schemes otherwise."""
    return CACHES.factory(url)(url, max_entries=max_entries)
