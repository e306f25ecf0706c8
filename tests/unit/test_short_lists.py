"""A filter few items pass still gives a full list, ranked by popularity, on SQLite and PostgreSQL.

8,000 items, the 2,100 oldest marked `archive` and never in the newest listings: before,
the popular and fresh listings were paged 25 times (5,000 rows each) and met none of them
but the few with interactions, so a visitor's archive list was short.
"""

import inspect
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events.types import decode_events
from contextiq.ml.base import ItemFeatures
from contextiq.ml.embedding import EmbeddingConfig, EmbeddingRecommender
from contextiq.ml.rows import GrowingRows
from contextiq.recommend import filters, service
from contextiq.recommend.filters import Filters
from contextiq.recommend.passing import PassingItems
from contextiq.recommend.request import ListRequest
from contextiq.services import Services, build_services
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_pg_database

ITEMS, ARCHIVE = 8_000, 2_100
CATEGORIES = [f"cat{n}" for n in range(10)]
NOW = datetime.now(UTC).replace(microsecond=0)
ARCHIVED = Filters(expression="metadata.archive == true")


def _id(n: int) -> str:
    return f"item{n:05d}"


def _items() -> list[Content]:
    """Item n was created n hours ago; the oldest ARCHIVE are the archive, all of one
    category but the oldest 20 (neither among its newest nor, but three, its most popular
    items: a category cap leaves the list short of them). The most popular archive item
    (below) has left its window."""
    out = []
    for n in range(ITEMS):
        archived = n >= ITEMS - ARCHIVE
        until = NOW - timedelta(days=1) if n == ITEMS - 4 else None
        one_category = archived and n < ITEMS - 20
        out.append(
            Content(
                _id(n),
                f"Item {n}",
                CATEGORIES[0 if one_category else n % len(CATEGORIES)],
                created_at=NOW - timedelta(hours=n),
                metadata={"archive": True} if archived else {},
                available_until=until,
            )
        )
    return out


#: Archive items by popularity (likes each); the first has left its window.
POPULAR = {_id(ITEMS - 4): 5, _id(ITEMS - 1): 4, _id(ITEMS - 2): 3, _id(ITEMS - 3): 2}


def _model(ids: list[str]) -> EmbeddingRecommender:
    rng = np.random.default_rng(0)
    model = EmbeddingRecommender(EmbeddingConfig(dim=8))
    model.add_items([ItemFeatures(i, category="x") for i in ids])
    model._item_in = GrowingRows(rng.normal(size=(len(ids), 8)).astype(np.float32))
    model._item_out = GrowingRows(rng.normal(size=(len(ids), 8)).astype(np.float32))
    model._bias = GrowingRows(np.zeros(len(ids), np.float32))
    return model


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Services]:
    async def built(url: str) -> AsyncIterator[Services]:
        settings = embedded_settings(tmp_path, database_url=url, record_impressions=False)
        services = build_services(settings)
        items = _items()
        await services.store.upsert_content(items)
        events, n = [], 0
        for item, likes in POPULAR.items():
            for _ in range(likes):
                n += 1
                events.append(Interaction(f"e{n}", f"fan{n}", item, InteractionType.LIKE, 1.0, NOW))
        # A critic disliked the second most popular item: it must not come back to them.
        events.append(
            Interaction("d1", "critic", _id(ITEMS - 1), InteractionType.DISLIKE, -1.0, NOW)
        )
        await services.store.record_interactions(events)
        async with services.store.claim_outbox(100) as batch:
            await services.store.apply_events(decode_events(e.payload for e in batch))
        services.models.model = _model([c.content_id for c in items])
        services.models.version = "test"
        try:
            yield services
        finally:
            await services.stop()

    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
        await upgrade_async(url)
        async for s in built(url):
            yield s
        return
    async with fresh_pg_database() as url:
        async for s in built(url):
            yield s


async def _list(services: Services, user: str, request: ListRequest) -> list[tuple[str, str]]:
    result = await services.recommendations.recommend(user, request, None)
    return [(i.content_id, i.source) for i in result.items]


async def test_a_selective_filter_gives_a_full_list_by_popularity(services: Services) -> None:
    archive = {_id(n) for n in range(ITEMS - ARCHIVE, ITEMS)}
    items = await _list(services, "visitor", ListRequest(10, ARCHIVED))
    assert len(items) == 10 and {i for i, _ in items} <= archive
    popular = [i for i, source in items if source == "popular"]
    # The popular archive items lead, most liked first; the one out of its window never shows.
    assert popular[:3] == [_id(ITEMS - 1), _id(ITEMS - 2), _id(ITEMS - 3)]
    assert _id(ITEMS - 4) not in {i for i, _ in items}


async def test_seen_items_stay_out_and_caps_hold(services: Services) -> None:
    archive = {_id(n) for n in range(ITEMS - ARCHIVE, ITEMS)}
    items = await _list(services, "critic", ListRequest(10, ARCHIVED))
    assert len(items) == 10 and {i for i, _ in items} <= archive
    assert items[0][0] == _id(ITEMS - 2) and _id(ITEMS - 1) not in {i for i, _ in items}
    capped = ListRequest(10, ARCHIVED, max_per_category=1)
    contents = await services.store.get_contents([i for i, _ in await _list(services, "v", capped)])
    assert len(contents) == 10 and {c.content_id for c in contents.values()} <= archive
    assert max(Counter(c.category for c in contents.values()).values()) == 1


async def test_a_personalized_list_under_the_filter_is_full(services: Services) -> None:
    events = [Interaction("p1", "reader", _id(5), InteractionType.LIKE, 1.0, NOW)]
    await services.store.record_interactions(events)
    archive = {_id(n) for n in range(ITEMS - ARCHIVE, ITEMS)}
    items = await _list(services, "reader", ListRequest(10, ARCHIVED))
    assert len(items) == 10 and {i for i, _ in items} <= archive


def test_the_paths_this_replaces_are_gone() -> None:
    """One way to a selective filter's items with a model: the mask, ranked in memory."""
    assert not hasattr(filters, "passing_ids") and not hasattr(service, "SELECTIVE_IDS")
    for listing in (Store.popular_content, Store.fresh_content):
        assert "only" not in inspect.signature(listing).parameters


async def test_the_popularity_order_is_read_once_then_refreshed_in_the_background(
    services: Services,
) -> None:
    """Not a read per request: a request finding the order old still uses it and has it
    read again meanwhile, for the requests after it."""
    passing = PassingItems(services.store, services.catalog, refresh_seconds=3600)
    model = services.models.model
    assert model is not None
    allowed, columns = await services.recommendations.columns.mask(model, ARCHIVED, None, NOW)

    async def first() -> str:
        found = await passing.popular(columns, allowed, (), 1, lambda _: True, None)
        return found[0][0].content_id

    assert await first() == _id(ITEMS - 1)
    likes = [
        Interaction(f"x{n}", f"late{n}", _id(ITEMS - 9), InteractionType.LIKE, 1.0, NOW)
        for n in range(9)
    ]
    await services.store.record_interactions(likes)
    async with services.store.claim_outbox(100) as batch:
        await services.store.apply_events(decode_events(e.payload for e in batch))
    assert await first() == _id(ITEMS - 1)  # kept: not read again for each request
    passing.refresh_seconds = 0
    assert await first() == _id(ITEMS - 1)  # this request uses the order it has...
    assert passing._refreshing is not None
    await passing._refreshing
    assert await first() == _id(ITEMS - 9)  # ...and the next one the order read meanwhile
