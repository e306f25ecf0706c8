"""The events that start a round are counted in the store, across every worker."""

from collections.abc import AsyncIterator

import pytest

from contextiq.events.types import RetrainRequested, UserDeleted
from contextiq.store.records import TrainingCount
from contextiq.store.store import Store, utcnow
from tests.conftest import stored_events


@pytest.fixture
async def store(migrated_url: str) -> AsyncIterator[Store]:
    s = Store(migrated_url)
    try:
        yield s
    finally:
        await s.close()


async def test_each_applied_event_a_model_learns_from_is_counted_once(store: Store) -> None:
    events = await stored_events(store, 3)
    erasure = UserDeleted("d-1", "u-gone", utcnow())
    applied = await store.apply_events([*events, erasure, RetrainRequested("r-1", utcnow())])
    assert applied.counted == 4  # the admin's request teaches a model nothing
    assert applied.count == TrainingCount(events=4, due_from=0)
    again = await store.apply_events(events)  # delivered again: applied, and counted, once
    assert (again.counted, again.count) == (0, None)
    assert await store.training_count() == TrainingCount(events=4, due_from=0)


async def test_a_round_takes_off_the_count_it_started_with(store: Store) -> None:
    await store.apply_events(await stored_events(store, 5))
    assert await store.count_next_round_from_now() == 5
    during = await store.apply_events(await stored_events(store, 2, first=5))
    assert during.count == TrainingCount(events=7, due_from=5)
    await store.round_completed(5)
    # The two applied while it trained stay counted for the next.
    assert await store.training_count() == TrainingCount(events=2, due_from=0)
