"""The in-process copy of the catalogue's rows, across a change of generation."""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import cast

from contextiq.domain import Content
from contextiq.recommend.catalog import Catalog
from contextiq.store.store import Store


class SlowStore:
    """Rows as they are when a read starts, returned once `release` is set (a slow query)."""

    def __init__(self, rows: dict[str, Content]) -> None:
        self.rows = rows
        self.release = asyncio.Event()
        self.release.set()

    async def get_contents(self, ids: Sequence[str]) -> dict[str, Content]:
        found = {i: self.rows[i] for i in ids if i in self.rows}
        await self.release.wait()
        return found


async def test_a_read_that_a_change_overtakes_still_answers_and_is_not_kept() -> None:
    store = SlowStore({"x": Content("x", "X", "music"), "y": Content("y", "Y", "music")})
    catalog = Catalog(cast(Store, store))
    store.release.clear()
    before = asyncio.create_task(catalog.get_many(["x"], 5))
    await asyncio.sleep(0)  # reading x as it was
    store.rows["x"] = replace(store.rows["x"], hidden=True)  # then hidden: generation 6
    store.release.set()
    await catalog.get_many(["y"], 6)
    found = await before
    assert "x" in found and not found["x"].hidden  # as generation 5 had it
    assert (await catalog.get_many(["x"], 6))["x"].hidden
