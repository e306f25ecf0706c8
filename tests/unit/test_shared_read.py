"""SharedRead: callers share a round trip and never get a value read before they asked."""

import asyncio

from contextiq.cache import MemoryCache
from contextiq.cache.shared_read import SharedRead
from contextiq.recommend.response_cache import RecommendationCache


class SlowCounter:
    """A backend read that takes a while and returns how many reads have started."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def read(self) -> int:
        self.started += 1
        seen = self.started
        await self.release.wait()
        return seen


async def test_concurrent_callers_share_one_read() -> None:
    counter = SlowCounter()
    shared = SharedRead(counter.read)
    calls = [asyncio.create_task(shared()) for _ in range(10)]
    await asyncio.sleep(0)
    counter.release.set()
    assert await asyncio.gather(*calls) == [1] * 10
    assert counter.started == 1


async def test_a_caller_arriving_mid_read_waits_for_the_next_read() -> None:
    counter = SlowCounter()
    shared = SharedRead(counter.read)
    early = asyncio.create_task(shared())
    await asyncio.sleep(0.01)  # the first read is now in flight
    late = [asyncio.create_task(shared()) for _ in range(3)]
    await asyncio.sleep(0)
    counter.release.set()
    assert await early == 1
    assert await asyncio.gather(*late) == [2, 2, 2]
    assert counter.started == 2


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    counter = SlowCounter()
    shared = SharedRead(counter.read)
    first, second = asyncio.create_task(shared()), asyncio.create_task(shared())
    await asyncio.sleep(0.01)
    first.cancel()
    counter.release.set()
    assert await second == 1


async def test_errors_reach_every_waiting_caller() -> None:
    async def broken() -> int:
        await asyncio.sleep(0.01)
        raise ConnectionError("down")

    shared = SharedRead(broken)
    results = await asyncio.gather(shared(), shared(), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_the_catalogue_generation_is_read_after_a_bump() -> None:
    class RemoteMemory(MemoryCache):
        remote = True

    recs = RecommendationCache(RemoteMemory(), ttl_seconds=300)
    assert await recs.catalog_generation() == 0
    await recs.invalidate_catalog()
    assert await asyncio.gather(recs.catalog_generation(), recs.catalog_generation()) == [1, 1]
