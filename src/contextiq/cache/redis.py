"""Redis cache: shared by every replica, so a generation bump on one invalidates all.

Calls fail fast (short socket timeouts) and raise `CacheUnavailable`, so a Redis
outage costs a request milliseconds, not seconds; callers then serve uncached.
"""

import re
from collections.abc import Collection, Mapping, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from contextiq.cache.base import Cache, CacheUnavailable

#: `incr_many` (and `incr`, with one key) on the server: each counter bumped and given its
#: lifetime, ARGV[1] milliseconds (none: kept forever); returns the last one's value.
#: Keys of one call must share a hash slot on Redis Cluster; a single node has no such limit.
INCR_ALL = """
local value
for _, key in ipairs(KEYS) do
  value = redis.call('INCR', key)
  if ARGV[1] then redis.call('PEXPIRE', key, ARGV[1]) else redis.call('PERSIST', key) end
end
return value
"""
#: `get_counted` on the server: the counters, then the entry named after their values.
GET_COUNTED = """
local counts = {}
for i, key in ipairs(KEYS) do counts[i] = redis.call('GET', key) or '0' end
return {counts, redis.call('GET', ARGV[1] .. table.concat(counts, ':') .. ARGV[2])}
"""

#: `set_if_counter` on the server: the check and the write as one command, then a counter
#: with a lifetime kept ARGV[4] milliseconds from now, when given (PTTL -2: absent, -1: none).
SET_IF_COUNTER = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if ARGV[4] and redis.call('PTTL', KEYS[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
"""


def _ms(seconds: float) -> int:
    """A TTL as Redis takes it: whole milliseconds, at least one."""
    return max(1, int(seconds * 1000))


def _lifetime(forget_after: float | None) -> list[int]:
    """A counter's lifetime as the scripts take it: an argument, or none for never."""
    return [] if forget_after is None else [_ms(forget_after)]


class RedisCache(Cache):
    backend = "redis"

    def __init__(self, url: str, timeout_seconds: float = 0.25) -> None:
        # A blocking pool: a burst of more concurrent calls than connections waits (up to the
        # same short timeout) for one to come free instead of failing "Too many connections".
        pool = BlockingConnectionPool.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            max_connections=64,
            timeout=timeout_seconds,
            health_check_interval=30,
        )
        self._redis = Redis(connection_pool=pool)
        # One command for a whole batch of users: a pipeline still packs and parses one
        # reply per key in Python, which cost the worker a third of its time.
        self._incr_all = self._redis.register_script(INCR_ALL)
        self._get_counted = self._redis.register_script(GET_COUNTED)
        self._set_if_counter = self._redis.register_script(SET_IF_COUNTER)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        try:
            await self._redis.set(key, value, px=_ms(ttl_seconds))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values = await self._redis.mget(list(keys))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return [v.encode() if isinstance(v, str) else v for v in values]

    async def set_many(self, values: Mapping[str, bytes], ttl_seconds: float) -> None:
        if not values:
            return
        px = _ms(ttl_seconds)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, value in values.items():
                    pipe.set(key, value, px=px)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def set_if_counter(
        self,
        counter: str,
        expected: int,
        key: str,
        value: bytes,
        ttl_seconds: float,
        forget_after: float | None = None,
    ) -> bool:
        args: list[bytes | int] = [expected, value, _ms(ttl_seconds), *_lifetime(forget_after)]
        try:
            stored = await self._set_if_counter(keys=[counter, key], args=args)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return bool(stored)

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def delete_prefix(self, prefix: str) -> int:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
        deleted = 0
        try:
            batch: list[bytes] = []
            async for key in self._redis.scan_iter(match=pattern, count=1_000):
                batch.append(key)
                if len(batch) >= 1_000:
                    deleted += int(await self._redis.unlink(*batch))
                    batch = []
            if batch:
                deleted += int(await self._redis.unlink(*batch))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return deleted

    async def incr(self, key: str, forget_after: float | None = None) -> int:
        try:
            return int(await self._incr_all(keys=[key], args=_lifetime(forget_after)))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def incr_many(self, keys: Collection[str], forget_after: float | None = None) -> None:
        if not keys:
            return
        try:
            await self._incr_all(keys=list(keys), args=_lifetime(forget_after))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def get_int(self, key: str) -> int:
        try:
            value = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return int(value) if value is not None else 0

    async def get_counted(
        self, counters: Sequence[str], prefix: str, suffix: str
    ) -> tuple[list[int], bytes | None]:
        try:
            counts, value = await self._get_counted(keys=list(counters), args=[prefix, suffix])
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc
        return [int(c) for c in counts], value.encode() if isinstance(value, str) else value

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self._redis.aclose()
