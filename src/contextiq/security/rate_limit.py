"""Request rates per credential and per client address, with the `limits` library.

Counts live in memory, or in Redis when the cache is Redis, so every replica draws on the
same allowance. Identities are hashed before they become storage keys: a rate-limit key never
names a user or holds a key. A storage outage lets requests through (logged), like the cache.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from contextiq.backends import scheme

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateLimited(Exception):
    retry_after: int
    what: str


#: Where `limits` counts when the cache is not Redis: each process alone.
PER_PROCESS = "async+memory://"


def storage_url(cache_url: str) -> str:
    """The `limits` storage sharing the cache's Redis, else this process's memory."""
    return f"async+{cache_url}" if scheme(cache_url) in {"redis", "rediss"} else PER_PROCESS


class RateLimits:
    def __init__(self, per_key: str | None, per_ip: str | None, cache_url: str) -> None:
        self.per_key: RateLimitItem | None = parse(per_key) if per_key else None
        self.per_ip: RateLimitItem | None = parse(per_ip) if per_ip else None
        url = storage_url(cache_url)
        options = {"implementation": "redispy"} if "redis" in url else {}
        self._limiter = FixedWindowRateLimiter(storage_from_string(url, **options))
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.per_key is not None or self.per_ip is not None

    async def check_ip(self, address: str) -> None:
        if self.per_ip is not None:
            await self._hit(self.per_ip, "ip", address, "this address")

    async def check(self, identity: str) -> None:
        """One request by a credential (or, without one, an address)."""
        if self.per_key is not None:
            await self._hit(self.per_key, "who", identity, "these credentials")

    async def _hit(self, item: RateLimitItem, scope: str, identity: str, what: str) -> None:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        try:
            if await self._limiter.hit(item, scope, digest):
                self._warned = False
                return
            stats = await self._limiter.get_window_stats(item, scope, digest)
        except Exception as exc:
            if not self._warned:
                log.warning("rate-limit storage unavailable, not limiting: %s", exc)
                self._warned = True
            return
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())), what)
