"""What follows a write (cache invalidation, relay nudge) runs once per group, before any reply."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import Event
from contextiq.store.group_commit import GroupCommitWriter
from contextiq.store.records import RecordResult


class SlowStore:
    """Commits take a moment, so requests that arrive meanwhile form the next group."""

    def __init__(self) -> None:
        self.commits: list[list[str]] = []

    async def record_interactions(
        self, items: Sequence[Interaction], events: Sequence[Event] = ()
    ) -> RecordResult:
        await asyncio.sleep(0.01)
        self.commits.append([i.event_id for i in items])
        return RecordResult([i.event_id for i in items], [])


def event(n: int) -> Interaction:
    return Interaction(
        event_id=f"e{n}",
        user_id=f"u{n % 3}",
        content_id="c1",
        interaction_type=InteractionType.VIEW,
        weight=1.0,
        occurred_at=datetime.now(UTC),
    )


async def test_after_commit_runs_once_per_group_before_the_replies() -> None:
    store = SlowStore()
    calls: list[list[str]] = []

    async def after_commit(items: Sequence[Interaction]) -> None:
        calls.append([i.event_id for i in items])

    writer = GroupCommitWriter(store, after_commit)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    try:
        first = asyncio.create_task(writer.write([event(0)]))
        await asyncio.sleep(0.001)  # e0 is committing; the next five wait together
        rest = [asyncio.create_task(writer.write([event(n)])) for n in range(1, 6)]
        results = await asyncio.gather(first, *rest)
    finally:
        task.cancel()
    assert [r.accepted for r in results] == [[f"e{n}"] for n in range(6)]
    assert calls == store.commits == [["e0"], [f"e{n}" for n in range(1, 6)]]


async def test_a_failing_after_commit_fails_the_group() -> None:
    async def after_commit(_: Sequence[Interaction]) -> None:
        raise RuntimeError("cache exploded")

    writer = GroupCommitWriter(SlowStore(), after_commit)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    try:
        with pytest.raises(RuntimeError, match="cache exploded"):
            await writer.write([event(0)])
    finally:
        task.cancel()
