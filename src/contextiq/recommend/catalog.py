"""Content metadata kept in process, valid for one catalogue generation.

Every upsert or delete bumps the shared generation, so each replica drops its copy
on the next request after a change; with the cache backend down nothing is trusted.
"""

from collections.abc import Sequence

from contextiq.domain import Content
from contextiq.store.store import Store


class Catalog:
    def __init__(self, store: Store, max_items: int = 200_000) -> None:
        self.store = store
        self.max_items = max_items
        self._items: dict[str, Content] = {}
        self._generation: int | None = None

    async def get_many(self, ids: Sequence[str], generation: int | None) -> dict[str, Content]:
        if generation is None:
            return await self.store.get_contents(ids)
        if generation != self._generation:
            self._items, self._generation = {}, generation
        missing = [i for i in ids if i not in self._items]
        if missing:
            if len(self._items) + len(missing) > self.max_items:
                self._items.clear()
            self._items.update(await self.store.get_contents(missing))
        return {i: self._items[i] for i in ids if i in self._items}
