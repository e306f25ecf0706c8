"""Concurrent single interactions written together still get their own outcome."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contextiq.domain import Content, Interaction, InteractionType
from contextiq.store.group_commit import InteractionWriter, Outcome
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}"
    await upgrade_async(url)
    s = Store(url)
    await s.upsert_content([Content(f"c{n}", f"T{n}", "music", created_at=NOW) for n in range(3)])
    yield s
    await s.close()


def _event(event_id: str, content_id: str) -> Interaction:
    return Interaction(event_id, "u", content_id, InteractionType.VIEW, 1.0, NOW)


async def test_concurrent_records_get_their_own_outcomes(store: Store) -> None:
    writer = InteractionWriter(store)
    events = [_event(f"e{n}", f"c{n % 3}") for n in range(50)]
    events += [_event("e1", "c1"), _event("e2", "c2"), _event("x", "missing")]
    outcomes = await asyncio.gather(*(writer.record(e) for e in events))
    assert outcomes[:50] == [Outcome.ACCEPTED] * 50
    assert outcomes[50:] == [Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.UNKNOWN_CONTENT]
    assert await store.pending_outbox() == 50
    assert await writer.record(_event("e3", "c0")) is Outcome.DUPLICATE


async def test_a_failed_write_reaches_every_waiting_request(tmp_path: Path) -> None:
    unmigrated = Store(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    writer = InteractionWriter(unmigrated)
    try:
        results = await asyncio.gather(
            *(writer.record(_event(f"e{n}", "c0")) for n in range(5)), return_exceptions=True
        )
    finally:
        await unmigrated.close()
    assert all(isinstance(r, Exception) for r in results)
