"""A bulk load commits several chunks at once: only what is committed is counted, and the
cached lists of its users go only once their rows can be read."""

from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.data.load import LoadCounts, Transactions
from contextiq.domain import Content, Interaction, InteractionType
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.bulk import BulkLoader, Row, interaction_rows
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class SeenAtInvalidation(RecommendationCache):
    """Records, at each invalidation, the users named and how many rows were readable then."""

    def __init__(self, store: Store) -> None:
        super().__init__(MemoryCache(), 60)
        self.store = store
        self.calls: list[tuple[set[str], int]] = []

    async def invalidate_users(self, user_ids: Collection[str]) -> None:
        self.calls.append((set(user_ids), (await self.store.interaction_counts())[2]))
        await super().invalidate_users(user_ids)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    s = Store(url)
    await s.upsert_content([Content("c", "T", "news", created_at=NOW)])
    yield s
    await s.close()


def _rows(loader: BulkLoader, first: int, count: int) -> list[Row]:
    events = [
        Interaction(f"e{n}", f"u{n}", "c", InteractionType.VIEW, 1.0, NOW + timedelta(seconds=n))
        for n in range(first, first + count)
    ]
    return interaction_rows(events, loader.time_form)


async def test_chunks_are_committed_counted_and_invalidated_together(store: Store) -> None:
    counts, cache = LoadCounts(), SeenAtInvalidation(store)
    async with (
        store.bulk_loader() as loader,
        Transactions(loader, counts, cache, rows_per_commit=5) as transactions,
    ):
        await transactions.add(_rows(loader, 0, 3))
        assert (counts.imported, cache.calls) == (0, [])  # held: not committed yet
        await transactions.add(_rows(loader, 2, 3))  # e2 again: a duplicate
        assert (counts.imported, counts.duplicates) == (5, 1)
        await transactions.add(_rows(loader, 5, 2))  # left open: committed on the way out
    assert (counts.imported, counts.duplicates) == (7, 1)
    assert cache.calls == [({"u0", "u1", "u2", "u3", "u4"}, 5), ({"u5", "u6"}, 7)]


async def test_a_failed_chunk_counts_nothing_of_its_transaction(store: Store) -> None:
    counts, cache = LoadCounts(), SeenAtInvalidation(store)
    async with (
        store.bulk_loader() as loader,
        Transactions(loader, counts, cache, rows_per_commit=10) as transactions,
    ):
        await transactions.add(_rows(loader, 0, 3))
        bad = [(*row[:-1], None) for row in _rows(loader, 3, 1)]  # occurred_at is NOT NULL
        with pytest.raises(Exception, match="NOT NULL"):
            await transactions.add(bad)
        await transactions.add(_rows(loader, 10, 2))
    assert (counts.imported, counts.duplicates) == (2, 0)
    assert cache.calls == [({"u10", "u11"}, 2)]
    assert (await store.interaction_counts())[2] == 2


async def test_a_transaction_open_past_its_time_is_committed(store: Store) -> None:
    """On SQLite an open transaction holds the write lock that live writers wait for."""
    counts, cache = LoadCounts(), SeenAtInvalidation(store)
    async with (
        store.bulk_loader() as loader,
        Transactions(loader, counts, cache, seconds_per_commit=0) as transactions,
    ):
        await transactions.add(_rows(loader, 0, 2))
        await transactions.add([])  # nothing to write: nothing opened
        await transactions.add(_rows(loader, 2, 1))
        assert [seen for _, seen in cache.calls] == [2, 3]
