"""One round trip for many concurrent readers of the same value, never an older value.

A caller that arrives while a read is in flight waits for the next read rather than
joining the current one, so every caller gets a value read after it asked: the same
freshness as reading alone, at one backend call per round trip instead of per request.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        if self._reader is None:
            self._reader = asyncio.create_task(self._run(), name="shared-read")
        # A cancelled caller must not cancel the read the others wait for.
        return await asyncio.shield(self._next)

    async def _run(self) -> None:
        try:
            while (waiting := self._next) is not None:
                self._next = None
                try:
                    waiting.set_result(await self._read())
                except Exception as exc:
                    waiting.set_exception(exc)
        finally:
            self._reader = None
