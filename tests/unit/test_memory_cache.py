import asyncio

from contextiq.cache import MemoryCache, cache_from_url
from contextiq.recommend.cache import RecommendationCache


async def test_ttl_expiry_and_lru_eviction() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", 0.05)
    await cache.set("b", b"2", 60)
    assert await cache.get("a") == b"1"
    await cache.set("c", b"3", 60)  # evicts the least recently used: b
    assert await cache.get("b") is None
    await asyncio.sleep(0.06)
    assert await cache.get("a") is None
    assert await cache.get("c") == b"3"


async def test_counters() -> None:
    cache = cache_from_url("memory://")
    assert await cache.get_int("n") == 0
    assert [await cache.incr("n") for _ in range(3)] == [1, 2, 3]


async def test_user_invalidation_orphans_only_that_users_entries() -> None:
    recs = RecommendationCache(MemoryCache(), ttl_seconds=300)
    key_a, key_b = await recs.key("a", "m1", 10), await recs.key("b", "m1", 10)
    await recs.put(key_a, {"items": [1]})
    await recs.put(key_b, {"items": [2]})
    await recs.invalidate_user("a")
    assert await recs.get(await recs.key("a", "m1", 10)) is None
    assert await recs.get(await recs.key("b", "m1", 10)) == {"items": [2]}
    await recs.invalidate_catalog()
    assert await recs.get(await recs.key("b", "m1", 10)) is None
