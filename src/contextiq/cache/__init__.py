"""Cache backends behind one interface, chosen by `CONTEXTIQ_CACHE_URL`."""

from urllib.parse import urlsplit

from contextiq.cache.base import Cache, CacheUnavailable
from contextiq.cache.memory import MemoryCache

__all__ = ["Cache", "CacheUnavailable", "MemoryCache", "cache_from_url"]


def cache_from_url(url: str, max_entries: int = 100_000) -> Cache:
    """`memory://` (default) or `redis://host:port/db`."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryCache(max_entries)
    if scheme in {"redis", "rediss"}:
        from contextiq.cache.redis import RedisCache

        return RedisCache(url)
    raise ValueError(f"unsupported cache URL scheme {scheme!r}; use memory:// or redis://")
