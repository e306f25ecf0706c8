"""Per-user recommendation responses (ready-made JSON) on top of any `Cache`, safe to lose.

Keys embed the user's generation and the catalogue's; an interaction bumps the
user's, a catalogue change bumps the catalogue's, and stale entries age out by TTL. An
erasure bumps the user's too (and deletes their lists), and a list is stored only while the
generation it was computed for is still the user's (`Cache.set_if_counter`), so a request that
was computing when the user was erased stores nothing. Users are named in keys by a digest
(`user_key`): the counter an erasure keeps names no one.

A user's counter is forgotten, and reads 0 again, or every session that ever interacted would
keep one. That is safe only if no live entry is named after a value it may read again and no
request still computing under an old value can store its list. So it goes only after
`forget_after` seconds with neither a bump nor a list stored under it (each pushes its end to
now + `forget_after`), longer than any list's TTL (every list named after it has expired) and
than any request (no put computed under it is left). Storing under an absent counter creates
none: users who only read hold none. The catalogue's counter is never forgotten: other
components compare its values.
If the backend is down, reads miss and writes are dropped: requests never fail on it.
"""

import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from contextiq.cache.base import Cache
from contextiq.cache.shared_read import SharedRead
from contextiq.observability.metrics import CACHE_LOOKUPS

log = logging.getLogger(__name__)
CATALOG_GENERATION = "gen:catalog"
DAY_SECONDS = 86_400.0


def user_key(user_id: str) -> str:
    """How cache keys name a user: a digest, as the audit log does (whoever knows the id can
    find the keys, a key names no one)."""
    return hashlib.sha256(f"contextiq-cache\0{user_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Lookup:
    """`key` is None when lists are not cached or the backend is down; so is
    `catalog_generation` in the second case (trust nothing cached then). `counter` and
    `generation`: the user's generation the key was named after, which `put` checks."""

    key: str | None
    value: bytes | None
    catalog_generation: int | None
    counter: str | None = None
    generation: int = 0


class RecommendationCache:
    def __init__(self, cache: Cache, ttl_seconds: float) -> None:
        self.cache = cache
        self.ttl_seconds = ttl_seconds
        #: How long an idle user's counter is kept: well past any list's TTL and any request.
        self.forget_after = max(DAY_SECONDS, 10 * ttl_seconds)
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
        name = user_key(user_id)
        prefix = f"recs:{name}:"
        suffix = ":" + ":".join(str(p) for p in parts)
        counters = [f"gen:user:{name}", CATALOG_GENERATION]
        try:
            (user_gen, catalog_gen), value = await self.cache.get_counted(counters, prefix, suffix)
        except Exception as exc:
            self._failed(exc)
            return Lookup(None, None, None)
        self._ok()
        CACHE_LOOKUPS.labels("miss" if value is None else "hit").inc()
        key = f"{prefix}{user_gen}:{catalog_gen}{suffix}"
        return Lookup(key, value, catalog_gen, counters[0], user_gen)

    async def put(self, found: Lookup, value: bytes, ttl_seconds: float | None = None) -> bool:
        """Store the list where `found` named it, unless the user's generation moved on since
        (an interaction or an erasure while it was computed); True if stored."""
        if found.key is None or found.counter is None:
            return False
        ttl = min(self.ttl_seconds, ttl_seconds or self.ttl_seconds)
        try:
            return await self.cache.set_if_counter(
                found.counter, found.generation, found.key, value, ttl, self.forget_after
            )
        except Exception as exc:
            self._failed(exc)
            return False

    async def invalidate_users(self, user_ids: Collection[str]) -> None:
        try:
            await self.cache.incr_many(
                [f"gen:user:{user_key(u)}" for u in user_ids], self.forget_after
            )
        except Exception as exc:
            self._failed(exc)

    async def forget_users(self, user_ids: Collection[str]) -> int:
        """Erase users' cached lists; an outage raises, since erasure must know.

        Their generation moves on rather than going now: back at 0, it would name the key a
        put computed before the erasure (still on its way) writes to, and the next read would
        serve the erased history from it. Bumped first, so no such put is stored from here on;
        the counter's key is a digest and names no one, and it goes once idle `forget_after`,
        when no such put is left. Returns how many cached lists went.
        """
        removed = 0
        for user_id in user_ids:
            name = user_key(user_id)
            await self.cache.incr(f"gen:user:{name}", self.forget_after)
            removed += await self.cache.delete_prefix(f"recs:{name}:")
            # Earlier versions named the user as they are: their lists age out by TTL, their
            # counter would stay.
            await self.cache.delete(f"gen:user:{user_id}")
        return removed

    async def invalidate_catalog(self) -> None:
        await self._bump(CATALOG_GENERATION)

    async def _bump(self, key: str) -> None:
        try:
            await self.cache.incr(key)
        except Exception as exc:
            self._failed(exc)
