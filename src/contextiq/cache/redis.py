"""Redis cache: shared by every replica, so a generation bump on one invalidates all.

Calls fail fast (short socket timeouts) and raise `CacheUnavailable`, so a Redis
outage costs a request milliseconds, not seconds; callers then serve uncached.
"""

import re
from collections.abc import Collection, Mapping, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from contextiq.cache.base import Cache, CacheUnavailable

#: Keys of one call must share a hash slot on Redis Cluster; a single node has no such limit.
INCR_ALL = "for _, key in ipairs(KEYS) do redis.call('INCR', key) end"
#: `get_counted` on the server: the counters, then the entry named after their values.
GET_COUNTED = """
local counts = {}
for i, key in ipairs(KEYS) do counts[i] = redis.call('GET', key) or '0' end
return {counts, redis.call('GET', ARGV[1] .. table.concat(counts, ':') .. ARGV[2])}
"""

#: `set_if_counter` on the server: the check and the write as one command.
SET_IF_COUNTER = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""


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
            await self._redis.set(key, value, px=max(1, int(ttl_seconds * 1000)))
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
        px = max(1, int(ttl_seconds * 1000))
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, value in values.items():
                    pipe.set(key, value, px=px)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def set_if_counter(
        self, counter: str, expected: int, key: str, value: bytes, ttl_seconds: float
    ) -> bool:
        px = max(1, int(ttl_seconds * 1000))
        try:
            stored = await self._set_if_counter(keys=[counter, key], args=[expected, value, px])
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

    async def incr(self, key: str) -> int:
        try:
            return int(await self._redis.incr(key))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def incr_many(self, keys: Collection[str]) -> None:
        if not keys:
            return
        try:
            await self._incr_all(keys=list(keys))
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
