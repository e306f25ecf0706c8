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
        """The rows of `ids` that exist, answered from what this call found and read, never
        from the copy afterwards: a request of a newer generation may replace (or one over
        `max_items` clear) the copy while this read is under way."""
        if generation is None:
            return await self.store.get_contents(ids)
        if generation != self._generation:
            self._items, self._generation = {}, generation
        items = self._items
        found = {i: items[i] for i in ids if i in items}
        missing = [i for i in ids if i not in found]
        if missing:
            read = await self.store.get_contents(missing)
            if len(items) + len(missing) > self.max_items:
                items.clear()
            items.update(read)
            found.update(read)
        return {i: found[i] for i in ids if i in found}
