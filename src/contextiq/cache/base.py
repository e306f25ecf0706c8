"""A small async key-value cache with TTLs; the backend is picked by URL scheme.

Per-user invalidation uses a generation counter (`incr`) instead of key scans:
keys embed the user's current generation, so bumping it orphans every old
entry at once, on every replica that shares the backend.

A counter may be given a lifetime (`forget_after`): once it goes that long without being
bumped or having an entry stored under it (`set_if_counter`), it is forgotten and reads 0
again, so one that can no longer matter holds no memory. `RecommendationCache` says when
that is safe.
"""

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence


class CacheUnavailable(Exception):
    """The cache backend could not be reached; callers serve uncached."""


class Cache(ABC):
    backend: str
    #: Calls cross the network (shared by replicas); False for the in-process and on-disk ones.
    remote: bool = True

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Several values in key order; backends with MGET read them in one round trip."""
        return [await self.get(key) for key in keys]

    async def set_many(self, values: Mapping[str, bytes], ttl_seconds: float) -> None:
        """Several values with one TTL; backends with pipelining write them in one round trip."""
        for key, value in values.items():
            await self.set(key, value, ttl_seconds)

    @abstractmethod
    async def set_if_counter(
        self,
        counter: str,
        expected: int,
        key: str,
        value: bytes,
        ttl_seconds: float,
        forget_after: float | None = None,
    ) -> bool:
        """Store the value only while `counter` reads `expected` (0 when absent), atomically
        with that check; True if it was stored.

        A list computed for one generation of its user must not be stored once the generation
        moved on (an erasure, an interaction), even by a put that was already on its way.
        With `forget_after`, a store also keeps a counter that has a lifetime for that long
        from now (the entry must expire before its counter goes); it never creates one.
        """

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key (entries and counters) starting with `prefix`; returns how many
        (a forgotten counter is not counted).

        A scan: for erasing one user's keys, not for the request path.
        """

    @abstractmethod
    async def incr(self, key: str, forget_after: float | None = None) -> int:
        """Atomically add one to an integer counter (created at 0) and return it.

        The counter is forgotten once `forget_after` seconds pass with no other bump and no
        entry stored under it (`set_if_counter` with a lifetime); None: never.
        """

    async def incr_many(self, keys: Collection[str], forget_after: float | None = None) -> None:
        """Bump several counters as `incr` does; backends with pipelining do it in one round
        trip."""
        for key in keys:
            await self.incr(key, forget_after)

    @abstractmethod
    async def get_int(self, key: str) -> int:
        """Current value of a counter, 0 when absent or forgotten."""

    async def get_counted(
        self, counters: Sequence[str], prefix: str, suffix: str
    ) -> tuple[list[int], bytes | None]:
        """The counters' values n1..nk and the entry under `prefix + "n1:...:nk" + suffix`.

        Every cached list is read under its user's and the catalogue's generations
        (`RecommendationCache.lookup`): backends that can run all the reads on the server (a
        script on Redis) take one round trip for them, not k + 1.
        """
        counts = [await self.get_int(c) for c in counters]
        return counts, await self.get(f"{prefix}{':'.join(map(str, counts))}{suffix}")

    @abstractmethod
    async def ping(self) -> None:
        """Raise CacheUnavailable when the backend is down."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
