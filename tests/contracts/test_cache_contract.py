"""What every cache backend promises: the response cache and the LLM score cache rely on it."""

import asyncio

from contextiq.cache import CACHES, Cache
from contextiq.recommend.response_cache import CATALOG_GENERATION, RecommendationCache, user_key


def test_backend_names_a_registered_scheme(cache: Cache) -> None:
    assert cache.backend in CACHES.schemes


async def test_values_round_trip_as_bytes_until_deleted(cache: Cache) -> None:
    assert await cache.get("absent") is None
    await cache.set("k", b"\x00binary\xff", 60)
    assert await cache.get("k") == b"\x00binary\xff"
    await cache.set("k", b"newer", 60)
    assert await cache.get("k") == b"newer"
    await cache.delete("k")
    assert await cache.get("k") is None
    await cache.delete("k")  # deleting what is gone is not an error


async def test_entries_expire_after_their_ttl(cache: Cache) -> None:
    await cache.set("short", b"1", 0.2)
    await cache.set("long", b"2", 60)
    assert await cache.get("short") == b"1"
    await asyncio.sleep(0.35)
    assert await cache.get("short") is None
    assert await cache.get("long") == b"2"


async def test_counters_start_at_zero_and_count_atomically(cache: Cache) -> None:
    assert await cache.get_int("n") == 0
    assert [await cache.incr("n") for _ in range(3)] == [1, 2, 3]
    await asyncio.gather(*(cache.incr("n") for _ in range(20)))
    assert await cache.get_int("n") == 23
    await cache.incr_many(["n", "m"])
    await cache.incr_many([])
    assert (await cache.get_int("n"), await cache.get_int("m")) == (24, 1)


async def test_a_counter_is_forgotten_once_idle_for_its_lifetime(cache: Cache) -> None:
    """Idle 0.5 s: no bump and no entry stored under it. Each bump and each store starts the
    lifetime over; a counter bumped without one, last, never goes."""
    await cache.incr_many(["idle", "bumped", "stored", "kept"], forget_after=0.5)
    await cache.incr("kept")
    await asyncio.sleep(0.3)
    await cache.incr("bumped", forget_after=0.5)
    assert await cache.set_if_counter("stored", 1, "list", b"x", 0.1, forget_after=0.5)
    await asyncio.sleep(0.3)  # past the first deadline, not the second
    counts = [await cache.get_int(k) for k in ("idle", "bumped", "stored", "kept")]
    assert counts == [0, 2, 1, 2]
    assert await cache.get_counted(["idle", "kept"], "p:", "") == ([0, 2], None)
    assert await cache.delete_prefix("idle") == 0  # absent already
    assert await cache.incr("idle", forget_after=0.5) == 1  # from 0 again


async def test_storing_under_an_absent_counter_creates_none(cache: Cache) -> None:
    """Or every user who only reads would hold a counter again."""
    assert await cache.set_if_counter("lonely:gen", 0, "list", b"x", 60, forget_after=60)
    assert await cache.get("list") == b"x"
    assert await cache.delete_prefix("lonely:") == 0


async def test_a_users_counter_goes_once_idle_and_the_catalogues_never(cache: Cache) -> None:
    """An interaction, an erasure and a stored list each keep the user's counter a lifetime
    past them: at least a day, and ten TTLs of the lists named after it."""
    assert RecommendationCache(cache, ttl_seconds=300).forget_after == 86_400
    assert RecommendationCache(cache, ttl_seconds=7 * 86_400).forget_after == 70 * 86_400
    recs = RecommendationCache(cache, ttl_seconds=0.1)
    recs.forget_after = 0.5
    await recs.invalidate_users(["a", "b"])
    await recs.forget_users(["erased"])
    await recs.invalidate_catalog()
    await asyncio.sleep(0.3)
    assert await recs.put(await recs.lookup("a", "m1"), b"A")
    await asyncio.sleep(0.3)
    counters = [f"gen:user:{user_key(u)}" for u in ("a", "b", "erased")]
    counts = [await cache.get_int(k) for k in (*counters, CATALOG_GENERATION)]
    assert counts == [1, 0, 0, 1]


async def test_ping_answers_while_the_backend_is_up(cache: Cache) -> None:
    await cache.ping()


async def test_a_users_invalidation_orphans_only_that_users_responses(cache: Cache) -> None:
    recs = RecommendationCache(cache, ttl_seconds=300)

    await recs.put(await recs.lookup("a", "m1", 10), b"A")
    await recs.put(await recs.lookup("b", "m1", 10), b"B")
    assert (await recs.lookup("a", "m1", 10)).value == b"A"
    await recs.invalidate_users(["a"])
    assert (await recs.lookup("a", "m1", 10)).value is None
    assert (await recs.lookup("b", "m1", 10)).value == b"B"
    await recs.invalidate_catalog()
    after = await recs.lookup("b", "m1", 10)
    assert after.value is None
    assert after.catalog_generation == await recs.catalog_generation() == 1


async def test_an_entry_is_read_under_its_counters_values(cache: Cache) -> None:
    counters = ["gen", "other"]
    assert await cache.get_counted(counters, "p:", ":s") == ([0, 0], None)
    await cache.set("p:0:0:s", b"zero", 60)
    assert await cache.get_counted(counters, "p:", ":s") == ([0, 0], b"zero")
    await cache.incr("other")
    assert await cache.get_counted(counters, "p:", ":s") == ([0, 1], None)
    await cache.set("p:0:1:s", b"one", 60)
    assert await cache.get_counted(counters, "p:", ":s") == ([0, 1], b"one")
    await cache.set("p:0:s", b"one counter", 60)
    assert await cache.get_counted(["gen"], "p:", ":s") == ([0], b"one counter")


async def test_many_values_are_read_in_key_order_and_written_with_one_ttl(cache: Cache) -> None:
    await cache.set_many({"a": b"1", "b": b"2"}, 60)
    await cache.set_many({}, 60)
    assert await cache.get_many(["b", "absent", "a"]) == [b"2", None, b"1"]
    assert await cache.get_many([]) == []
    await cache.set_many({"brief": b"3"}, 0.2)
    await asyncio.sleep(0.35)
    assert await cache.get_many(["brief", "a"]) == [None, b"1"]


async def test_a_value_is_stored_only_while_its_counter_reads_as_expected(cache: Cache) -> None:
    assert await cache.set_if_counter("gen", 0, "k", b"at 0", 60)  # absent reads 0
    assert await cache.get("k") == b"at 0"
    await cache.incr("gen")
    assert not await cache.set_if_counter("gen", 0, "k", b"late", 60)
    assert not await cache.set_if_counter("gen", 0, "other", b"late", 60)
    assert (await cache.get("k"), await cache.get("other")) == (b"at 0", None)
    assert await cache.set_if_counter("gen", 1, "k", b"at 1", 0.2)
    assert await cache.get("k") == b"at 1"
    await asyncio.sleep(0.35)
    assert await cache.get("k") is None


async def test_a_list_computed_before_an_erasure_is_never_served(cache: Cache) -> None:
    """An erasure while a request computes: its late put stores nothing, and the next read
    (the same id coming back, interacting as much as before) never finds it."""
    recs = RecommendationCache(cache, ttl_seconds=300)
    await recs.invalidate_users(["a"])  # an interaction: generation 1
    await recs.put(await recs.lookup("a", "m1", 10), b"before")
    computing = await recs.lookup("a", "m1", 10, "other settings")  # a miss, computing...
    assert await recs.forget_users(["a"]) == 1
    assert not await recs.put(computing, b"erased history")  # ...and stored after the erasure
    for _ in range(3):
        found = await recs.lookup("a", "m1", 10, "other settings")
        assert found.value is None and found.key != computing.key
        await recs.invalidate_users(["a"])
    assert (await recs.lookup("a", "m1", 10)).value is None


async def test_a_list_computed_before_an_interaction_is_not_stored(cache: Cache) -> None:
    recs = RecommendationCache(cache, ttl_seconds=300)
    computing = await recs.lookup("b", "m1")
    await recs.invalidate_users(["b"])
    assert not await recs.put(computing, b"stale")
    found = await recs.lookup("b", "m1")
    assert found.value is None
    assert await recs.put(found, b"fresh")
    assert (await recs.lookup("b", "m1")).value == b"fresh"
