"""What only the in-process cache does; what every cache does is in tests/contracts/."""

import asyncio

from contextiq.cache import MemoryCache
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.group_commit import GroupCommitWriter
from contextiq.store.records import RecordResult


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


async def test_idle_counters_leave_memory() -> None:
    """Bounded memory is the point of a lifetime: sessions that went idle hold nothing."""
    cache = MemoryCache()
    await cache.incr("gen:catalog")
    for batch in range(3):
        await cache.incr_many([f"gen:user:{batch}:{n}" for n in range(1_000)], forget_after=0.05)
        assert len(cache._counters) <= 1_001
        await asyncio.sleep(0.1)
    await cache.incr("gen:user:new", forget_after=0.05)
    assert set(cache._counters) == {"gen:catalog", "gen:user:new"}
    assert list(cache._deadlines) == ["gen:user:new"]


async def test_a_disabled_cache_stores_nothing() -> None:
    recs = RecommendationCache(MemoryCache(), ttl_seconds=0)
    found = await recs.lookup("a", "m1")
    assert (found.key, found.value, found.catalog_generation) == (None, None, 0)


def test_group_commit_gives_each_request_its_own_share() -> None:
    class Item:
        def __init__(self, event_id: str) -> None:
            self.event_id = event_id

    futures = [asyncio.Future[RecordResult](loop=asyncio.new_event_loop()) for _ in range(3)]
    group = [
        ([Item("a"), Item("b")], (), futures[0]),
        ([Item("b"), Item("c"), Item("c")], (), futures[1]),
        ([Item("x")], (), futures[2]),
    ]
    GroupCommitWriter._settle(group, RecordResult(["a", "b", "c"], ["b", "c", "x"]))  # type: ignore[arg-type]
    assert [f.result() for f in futures] == [
        RecordResult(["a", "b"], []),
        RecordResult(["c"], ["b", "c"]),
        RecordResult([], ["x"]),
    ]
