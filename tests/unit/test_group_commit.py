"""What follows a write (cache invalidation, relay nudge) runs once per group, before any reply."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import Event, ImpressionBatch, ImpressionSeen
from contextiq.store.group_commit import GroupCommitWriter, WriterBusy
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


class RecordingStore:
    """Commits instantly and keeps what each one carried; can be told to fail."""

    def __init__(self) -> None:
        self.commits: list[tuple[list[str], list[Event]]] = []
        self.failures = 0

    async def record_interactions(
        self, items: Sequence[Interaction], events: Sequence[Event] = ()
    ) -> RecordResult:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.commits.append(([i.event_id for i in items], list(events)))
        return RecordResult([i.event_id for i in items], [])


def shown(n: int) -> tuple[str, str, str, int]:
    return (f"r{n}", f"u{n}", '[[["a",1.0]],null,null,null,null]', n)


def batched(store: RecordingStore) -> list[list[str]]:
    return [
        [rid for rid, *_ in e.shown]
        for _, events in store.commits
        for e in events
        if isinstance(e, ImpressionBatch)
    ]


async def test_impressions_go_in_one_batch_per_commit_without_a_request_waiting() -> None:
    store = RecordingStore()
    writer = GroupCommitWriter(store, impression_interval=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    try:
        for n in range(3):
            writer.show(shown(n))  # returns at once: nothing to await
        await asyncio.sleep(0.01)
        assert batched(store) == [["r0", "r1", "r2"]]
        writer.show(shown(3))
        writer.show(shown(4))
        await asyncio.sleep(0.01)
        assert batched(store) == [["r0", "r1", "r2"]]  # impressions alone wait for the interval
        await writer.write([event(9)])  # an interaction takes them along at once
        assert store.commits[-1][0] == ["e9"]
        assert batched(store) == [["r0", "r1", "r2"], ["r3", "r4"]]
        writer.show(shown(5))
        await asyncio.sleep(0.1)
        assert batched(store)[-1] == ["r5"]
    finally:
        task.cancel()


async def test_impressions_of_a_failed_commit_are_kept_and_flushed_at_shutdown() -> None:
    store = RecordingStore()
    store.failures = 1
    writer = GroupCommitWriter(store, retry_seconds=0.01, impression_interval=0)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.show(shown(0))
    await asyncio.sleep(0.05)
    assert batched(store) == [["r0"]]  # the second try carried it
    writer.impression_interval = 60.0
    writer.show(shown(1))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert batched(store) == [["r0"], ["r1"]]


def test_no_impression_of_a_user_erased_since_its_request_started_is_buffered() -> None:
    writer = GroupCommitWriter(SlowStore())  # type: ignore[arg-type]
    early = writer.erasures  # a request for u1 starts
    writer.erasing("u1")
    writer.show(("r1", "u1", "[]", 1), early)
    during = writer.erasures  # another starts while the erasure runs
    writer.show(("r2", "u2", "[]", 2), early)  # someone else's
    writer.erased("u1")
    writer.show(("r3", "u1", "[]", 3), early)
    writer.show(("r4", "u1", "[]", 4), during)
    writer.show(("r5", "u1", "[]", 5), writer.erasures)  # after the erasure: a new record
    writer.show(("r6", "u1", "[]", 6))
    assert [s[0] for s in writer._shown] == ["r2", "r5", "r6"]


async def test_a_commit_carries_its_impressions_ahead_of_the_reports_on_them() -> None:
    """A client reports the positions it rendered as soon as the answer arrives, while the
    impression still waits in the buffer: the report's commit takes it along, and it must
    come first in the outbox. A relay claim or consumer batch that ends between them would
    apply the report before its impression, and the worker drops (and deduplicates) a report
    on an impression it has not stored."""
    store = RecordingStore()
    writer = GroupCommitWriter(store, impression_interval=60.0)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    try:
        writer.show(shown(0))
        await writer.write((), (ImpressionSeen("r0", "u0", (1, 2)),))
    finally:
        task.cancel()
    [(_, events)] = store.commits
    assert [type(e) for e in events] == [ImpressionBatch, ImpressionSeen]


class StuckStore(RecordingStore):
    """The first commit hangs (a slow database) until `release` is set or the writer stops."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = asyncio.Event()
        self.release = asyncio.Event()

    async def record_interactions(
        self, items: Sequence[Interaction], events: Sequence[Event] = ()
    ) -> RecordResult:
        if not self.stuck.is_set():
            self.stuck.set()
            await self.release.wait()
        return await super().record_interactions(items, events)


async def test_shutdown_mid_commit_fails_its_requests_and_keeps_its_impressions() -> None:
    """Old code forgot the group in flight: its request waited forever and its impressions,
    neither stored nor buffered any more, were lost at shutdown."""
    store = StuckStore()
    writer = GroupCommitWriter(store, impression_interval=0)  # type: ignore[arg-type]
    writer.show(shown(0))
    request = asyncio.create_task(writer.write([event(0)]))
    task = asyncio.create_task(writer.run())
    await store.stuck.wait()
    assert not writer._queue  # the request is in the commit that hangs
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(RuntimeError, match="shutting down"):
        await asyncio.wait_for(request, 1)
    assert batched(store) == [["r0"]]


async def test_writes_past_max_waiting_are_refused_while_the_database_is_slow() -> None:
    """Old code queued every write while a commit hung: memory grew with the requests."""
    store = StuckStore()
    writer = GroupCommitWriter(store, max_waiting=3)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    try:
        first = asyncio.create_task(writer.write([event(0)]))
        await store.stuck.wait()  # e0 is committing and waits no more
        waiting = asyncio.create_task(writer.write([event(1), event(2), event(3)]))
        await asyncio.sleep(0)
        with pytest.raises(WriterBusy):
            await writer.write([event(4)])
        store.release.set()
        await asyncio.gather(first, waiting)
        assert (await writer.write([event(4)])).accepted == ["e4"]
    finally:
        task.cancel()


async def test_impressions_past_max_buffered_are_dropped_while_a_commit_hangs() -> None:
    """Cached answers are served without the database, so impressions come while a commit
    hangs; old code kept every one (`max_buffered` bounded only a failed commit's)."""
    store = StuckStore()
    writer = GroupCommitWriter(store, max_buffered=2, impression_interval=0)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    try:
        writer.show(shown(0))
        await store.stuck.wait()  # r0 is committing
        for n in range(1, 5):
            writer.show(shown(n))
        assert [rid for rid, *_ in writer._shown] == ["r1", "r2"]
    finally:
        task.cancel()
