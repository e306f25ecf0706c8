"""Building a filter's fields: a metadata path no item has costs no pass over the catalogue,
and a field built for one request does not hold up the others (no timers: a build is held
on an event while the other requests complete)."""

import asyncio
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from contextiq.domain import Content
from contextiq.recommend.filters import NO_FILTERS, FilterColumns, Filters
from contextiq.rules.columns import OVERLAY_ROWS, CatalogColumns, FieldBuild, FieldColumn
from contextiq.rules.expression import parse
from contextiq.rules.predicate import matches

NOW = datetime(2026, 6, 1, tzinfo=UTC)
GUARD = 30  # seconds: only so a regression fails instead of hanging; nothing is timed


def item(n: int, **metadata: Any) -> Content:
    return Content(f"i{n}", f"t{n}", "ab"[n % 2], metadata={"price": n, **metadata})


def catalogue(n: int = 6) -> list[Content]:
    return [item(j, dims={"w": j}) for j in range(n)]


def truth(text: str, contents: Sequence[Content]) -> list[bool]:
    return [matches(parse(text), c) for c in contents]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the passes over the catalogue that build a field."""
    counted: list[int] = []
    real = FieldColumn.build.__func__

    def build(cls: type[FieldColumn], raws: Sequence[Any]) -> FieldColumn:
        counted.append(len(raws))
        column: FieldColumn = real(cls, raws)
        return column

    monkeypatch.setattr(FieldColumn, "build", classmethod(build))
    return counted


def test_a_metadata_path_no_item_has_builds_no_field(builds: list[int]) -> None:
    items = catalogue()
    columns = CatalogColumns([c.content_id for c in items])
    columns.update(items)
    for text in [
        " or ".join(f"metadata.k{j}" for j in range(8)),
        "metadata.dims.h > 1",
        "metadata.price.x",  # below a number: nothing
        "not metadata.k0 and metadata.k1 not in [1]",
    ]:
        expr = parse(text)
        assert columns.has_fields(expr), text
        assert columns.mask(expr).tolist() == truth(text, items), text
    assert builds == []
    assert columns._fields == {}
    # The set of paths follows writes: one item gains `k0` (and `dims.h`), then loses it.
    items[3] = item(3, k0="x", dims={"h": 2})
    columns.update([items[3]])
    for text in ["metadata.k0", "metadata.dims.h > 1", "metadata.k1"]:
        assert columns.mask(parse(text)).tolist() == truth(text, items), text
    assert len(builds) == 2 and set(columns._fields) == {
        ("metadata", "k0"),
        ("metadata", "dims", "h"),
    }
    items[3] = item(3)
    columns.update([items[3]])
    assert not columns.known(("metadata", "k0")) and not columns.known(("metadata", "dims", "h"))
    assert columns.known(("metadata", "dims", "w")) and columns.known(("metadata", "price"))
    assert columns.mask(parse("metadata.k0")).tolist() == [False] * len(items)
    assert len(builds) == 2


def test_a_build_from_a_copy_overlays_the_rows_written_since() -> None:
    items = catalogue()
    columns = CatalogColumns([c.content_id for c in items])
    columns.update(items)
    expr = parse("metadata.price >= 4")
    build = columns.snapshot(columns.missing(expr))
    items[0] = replace(items[0], metadata={"price": 9})  # written while it builds
    columns.update([items[0]])
    columns.extend(["late"])
    items.append(Content("late", "t", "a", metadata={"price": 5}))
    columns.update([items[-1]])
    assert columns.install(build, build.run())
    assert columns.has_fields(expr)
    assert columns.mask(expr).tolist() == truth("metadata.price >= 4", items)


def test_a_build_is_refused_when_too_many_rows_changed_meanwhile() -> None:
    items = [item(j) for j in range(OVERLAY_ROWS + 10)]
    columns = CatalogColumns([c.content_id for c in items])
    columns.update(items)
    columns.field(("category",))
    build = columns.snapshot([("metadata", "price")])
    items = [replace(c, metadata={"price": -1}) for c in items]
    columns.update(items)  # past OVERLAY_ROWS: the fields are dropped
    assert not columns.install(build, build.run())
    assert columns.missing(parse("metadata.price < 0")) == {("metadata", "price")}


class Model:
    def __init__(self, ids: Sequence[str]) -> None:
        self.item_ids = list(ids)


class Store:
    """What `FilterColumns` reads: every row once, then the rows written since (and the ids,
    when the count says some were deleted)."""

    def __init__(self, contents: Sequence[Content]) -> None:
        self.rows = {c.content_id: c for c in contents}
        self.written: list[Content] = []

    def write(self, content: Content) -> None:
        self.rows[content.content_id] = content
        self.written.append(content)

    async def all_content(self) -> list[Content]:
        return list(self.rows.values())

    async def content_updated_since(self, moment: datetime) -> list[Content]:
        return list(self.written)

    async def get_contents(self, ids: Sequence[str]) -> dict[str, Content]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    async def content_count(self) -> int:
        return len(self.rows)

    async def content_ids(self) -> list[str]:
        return list(self.rows)


def serving() -> tuple[list[Content], Store, Model, FilterColumns]:
    """A catalogue, its store and model, and the process's filter columns over them."""
    items = catalogue()
    store = Store(items)
    return items, store, Model([c.content_id for c in items]), FilterColumns(store)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Field builds wait for `release` once they have said `started`."""
    started, release = threading.Event(), threading.Event()
    real = FieldBuild.run

    def run(self: FieldBuild) -> dict[tuple[str, ...], FieldColumn]:
        started.set()
        release.wait(2 * GUARD)  # the test itself fails first
        return real(self)

    monkeypatch.setattr(FieldBuild, "run", run)
    yield started, release
    release.set()


async def test_requests_needing_no_new_field_do_not_wait_for_a_build(
    held: tuple[threading.Event, threading.Event],
) -> None:
    started, release = held
    items, _, model, filters = serving()
    release.set()  # `category` is built beforehand, unhindered
    await filters.mask(model, Filters(categories=("a",)), 1, NOW)
    release.clear()
    started.clear()
    slow = asyncio.create_task(
        filters.mask(model, Filters(expression="metadata.price > 2"), 1, NOW)
    )
    assert await asyncio.to_thread(started.wait, GUARD)  # the build is under way, held
    for other, expected in [
        (NO_FILTERS, [True] * len(items)),
        (Filters(categories=("a",)), truth('category == "a"', items)),
        (Filters(expression="metadata.nobody or metadata.dims.none"), [False] * len(items)),
    ]:
        allowed, _ = await asyncio.wait_for(filters.mask(model, other, 1, NOW), GUARD)
        assert allowed.tolist() == expected, other
    assert not slow.done() and not release.is_set()  # all of that while the build waited
    release.set()
    allowed, _ = await asyncio.wait_for(slow, GUARD)
    assert allowed.tolist() == truth("metadata.price > 2", items)


async def test_a_write_during_a_build_is_not_lost(
    held: tuple[threading.Event, threading.Event],
) -> None:
    started, release = held
    items, store, model, filters = serving()
    text = "metadata.price > 2"
    slow = asyncio.create_task(filters.mask(model, Filters(expression=text), 1, NOW))
    assert await asyncio.to_thread(started.wait, GUARD)
    items[0] = replace(items[0], metadata={"price": 7})
    store.write(items[0])  # the generation moves; the next request patches the columns
    await asyncio.wait_for(filters.mask(model, NO_FILTERS, 2, NOW), GUARD)
    release.set()
    allowed, _ = await asyncio.wait_for(slow, GUARD)
    assert allowed.tolist() == truth(text, items)
    again, _ = await filters.mask(model, Filters(expression=text), 2, NOW)
    assert again.tolist() == truth(text, items)


async def test_builds_refused_again_and_again_are_made_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items, _, model, filters = serving()
    monkeypatch.setattr(CatalogColumns, "install", lambda *_: False)
    text = "metadata.price > 2 and metadata.dims.w < 5"
    allowed, columns = await filters.mask(model, Filters(expression=text), 1, NOW)
    assert allowed.tolist() == truth(text, items)
    assert columns.has_fields(parse(text))
