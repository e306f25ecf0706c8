"""Per-user recommendation responses (ready-made JSON) on top of any `Cache`, safe to lose.

Keys embed the user's generation and the catalogue's; an interaction bumps the
user's, a catalogue change bumps the catalogue's, and stale entries age out by TTL.
If the backend is down, reads miss and writes are dropped: requests never fail on it.
"""

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from contextiq.cache.base import Cache
from contextiq.cache.shared_read import SharedRead
from contextiq.observability.metrics import CACHE_LOOKUPS

log = logging.getLogger(__name__)
CATALOG_GENERATION = "gen:catalog"


@dataclass(frozen=True, slots=True)
class Lookup:
    """`key` is None when lists are not cached or the backend is down; so is
    `catalog_generation` in the second case (trust nothing cached then)."""

    key: str | None
    value: bytes | None
    catalog_generation: int | None


class RecommendationCache:
    def __init__(self, cache: Cache, ttl_seconds: float) -> None:
        self.cache = cache
        self.ttl_seconds = ttl_seconds
        self.healthy = True
        # Every interaction and recommendation reads the catalogue generation: on a shared
        # backend, concurrent requests share one round trip; in process a read costs nothing.
        self._read_generation: Callable[[], Awaitable[int | None]] = (
            SharedRead(self._catalog_generation) if cache.remote else self._catalog_generation
        )

    def _ok(self) -> None:
        self.healthy = True

    def _failed(self, exc: Exception) -> None:
        if self.healthy:
            log.warning("cache unavailable, serving uncached: %s", exc)
        self.healthy = False

    async def catalog_generation(self) -> int | None:
        """The catalogue's version, or None when the backend is down (trust nothing cached)."""
        return await self._read_generation()

    async def _catalog_generation(self) -> int | None:
        try:
            generation = await self.cache.get_int(CATALOG_GENERATION)
        except Exception as exc:
            self._failed(exc)
            return None
        self._ok()
        return generation

    async def lookup(self, user_id: str, *parts: object) -> Lookup:
        """Where a list for these settings lives, and that list if cached.

        One round trip on a shared cache for the user's generation, the catalogue's and the
        entry named after both (`Cache.get_counted`).
        """
        if self.ttl_seconds <= 0:
            return Lookup(None, None, await self.catalog_generation())
        prefix = f"recs:{user_id}:"
        suffix = ":" + ":".join(str(p) for p in parts)
        counters = [f"gen:user:{user_id}", CATALOG_GENERATION]
        try:
            (user_gen, catalog_gen), value = await self.cache.get_counted(counters, prefix, suffix)
        except Exception as exc:
            self._failed(exc)
            return Lookup(None, None, None)
        self._ok()
        CACHE_LOOKUPS.labels("miss" if value is None else "hit").inc()
        return Lookup(f"{prefix}{user_gen}:{catalog_gen}{suffix}", value, catalog_gen)

    async def put(self, key: str | None, value: bytes, ttl_seconds: float | None = None) -> None:
        if key is None:
            return
        try:
            await self.cache.set(key, value, min(self.ttl_seconds, ttl_seconds or self.ttl_seconds))
        except Exception as exc:
            self._failed(exc)

    async def invalidate_users(self, user_ids: Collection[str]) -> None:
        try:
            await self.cache.incr_many([f"gen:user:{u}" for u in user_ids])
        except Exception as exc:
            self._failed(exc)

    async def forget_users(self, user_ids: Collection[str]) -> int:
        """Erase users' cached lists and counters; an outage raises, since erasure must know.

        Returns how many cached lists went.
        """
        removed = 0
        for user_id in user_ids:
            removed += await self.cache.delete_prefix(f"recs:{user_id}:")
            await self.cache.delete(f"gen:user:{user_id}")
        return removed

    async def invalidate_catalog(self) -> None:
        await self._bump(CATALOG_GENERATION)

    async def _bump(self, key: str) -> None:
        try:
            await self.cache.incr(key)
        except Exception as exc:
            self._failed(exc)
