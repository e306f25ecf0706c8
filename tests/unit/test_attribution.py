"""Attribution of interactions to impressions, in memory and through the worker's store path."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from contextiq.api.schemas import HeldData
from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events.types import (
    Event,
    ImpressionBatch,
    ImpressionRecorded,
    ImpressionSeen,
    InteractionRecorded,
    UserDeleted,
    decode_event,
    from_ms,
    list_head,
    served_list,
)
from contextiq.experiments.attribution import ImpressionState, attribute, engage
from contextiq.store.migrate import upgrade_async
from contextiq.store.online import RECENT_PER_USER, OnlineApplier, list_key, to_ms
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import (
    ExperimentArmStats,
    ImpressionRow,
    OnlineDaily,
    OnlineUser,
    OutboxRow,
    ParkedReport,
    ServedList,
)
from contextiq.worker.parked_sweep import sweep_parked
from tests.integration.conftest import fresh_pg_database

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
DAY = timedelta(hours=24)


def state(
    rid: str, at: datetime, items: list[str], user: str = "u", **kw: object
) -> ImpressionState:
    return ImpressionState(rid, user, at, at.date().isoformat(), "v1", "", "", items, **kw)  # type: ignore[arg-type]


def view(content: str, at: datetime, rid: str | None = None, user: str = "u") -> Interaction:
    return Interaction(
        f"e-{content}-{at}", user, content, InteractionType.VIEW, 1.0, at, recommendation_id=rid
    )


def test_a_named_impression_takes_the_interaction() -> None:
    old = state("r1", T0, ["a", "b", "c"])
    new = state("r2", T0 + timedelta(hours=1), ["b"])
    by_id = {"r1": old, "r2": new}
    found = attribute(view("b", T0 + timedelta(hours=2), "r1"), by_id, [new, old], DAY)
    assert found == (old, 2)
    # Named but not shown there, or someone else's: no attribution, no guessing.
    assert attribute(view("z", T0, "r1"), by_id, [new, old], DAY) is None
    assert attribute(view("a", T0, "r1", user="v"), by_id, [], DAY) is None
    assert attribute(view("a", T0, "gone"), by_id, [], DAY) is None


def test_without_an_id_the_latest_impression_in_the_window_counts() -> None:
    old = state("r1", T0, ["a", "b"])
    new = state("r2", T0 + timedelta(hours=3), ["b", "a"])
    later = state("r3", T0 + timedelta(hours=10), ["a"])
    recent = [later, new, old]  # newest first
    assert attribute(view("a", T0 + timedelta(hours=4)), {}, recent, DAY) == (new, 2)
    # The only impression with the item is older than the window.
    assert attribute(view("b", T0 + timedelta(hours=28)), {}, recent, DAY) is None
    assert attribute(view("b", T0 + timedelta(hours=26)), {}, recent, DAY) == (new, 1)
    # Shown only after the interaction happened.
    assert attribute(view("a", T0 - timedelta(hours=1)), {}, recent, DAY) is None


def test_an_interaction_near_year_one_is_attributed_without_overflow() -> None:
    """Events stored before the API refused times before 1970 may carry any time from year 1
    on; one within the window of it must not overflow (it would be a dead letter)."""
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    assert attribute(view("a", year_one), {}, [state("r1", year_one, ["a"])], DAY) == (
        state("r1", year_one, ["a"]),
        1,
    )


def test_only_rendered_positions_can_be_credited() -> None:
    partial = state("r1", T0, ["a", "b", "c"], seen=[1, 2])
    assert attribute(view("c", T0, "r1"), {"r1": partial}, [partial], DAY) is None
    assert attribute(view("b", T0), {}, [partial], DAY) == (partial, 2)


def test_each_rate_counts_an_impression_once_and_the_first_click_gives_the_rank() -> None:
    s = state("r1", T0, ["a", "b", "c"])
    first = engage(s, InteractionType.VIEW, 3)
    assert (first.column, first.reciprocal_rank, first.new_click) == (
        "clicks",
        pytest.approx(1 / 3),
        True,
    )
    second = engage(s, InteractionType.VIEW, 1)
    assert (second.column, second.reciprocal_rank, second.new_click) == (None, 0.0, True)
    again = engage(s, InteractionType.VIEW, 1)
    assert (again.column, again.new_click) == (None, False)
    assert engage(s, InteractionType.LIKE, 1).column == "likes"
    assert engage(s, InteractionType.LIKE, 3).column is None
    assert engage(s, InteractionType.SKIP, 2).column is None
    assert s.clicked == [3, 1]


def test_interleaved_clicks_move_the_outcome() -> None:
    s = state("r1", T0, ["a", "b", "c"], teams=["A", "B", "A"])
    assert engage(s, InteractionType.VIEW, 2).outcome_change == (None, "B")
    assert engage(s, InteractionType.VIEW, 1).outcome_change == ("B", "tie")
    assert engage(s, InteractionType.VIEW, 3).outcome_change == ("tie", "A")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
            await upgrade_async(url)
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        s = Store(url)
        await s.upsert_content([Content(c, c.upper(), "cat") for c in "abcdef"])
        yield s
        await s.close()


def impression(rid: str, user: str, items: str, at: datetime, arm: str = "x") -> ImpressionRecorded:
    return ImpressionRecorded(rid, user, tuple((c, 1.0) for c in items), at, "v1", "exp", arm)


def clicked(
    event_id: str, user: str, content: str, at: datetime, rid: str | None = None
) -> InteractionRecorded:
    return InteractionRecorded(
        Interaction(event_id, user, content, InteractionType.VIEW, 1.0, at, recommendation_id=rid)
    )


async def delivered(store: Store, events: Sequence[Event]) -> list[Event]:
    """`events` as the worker gets them: an interaction's row was stored with its outbox row
    (an event whose row is gone, erased, is not applied)."""
    await store.record_interactions(
        [e.interaction for e in events if isinstance(e, InteractionRecorded)]
    )
    return (await store.apply_events(events)).events


async def test_replayed_batches_count_once(store: Store) -> None:
    now = datetime.now(UTC)
    batch = [
        impression("r1", "u1", "abc", now),
        impression("r2", "u1", "bcd", now + timedelta(seconds=1)),
        impression("r3", "u2", "abc", now, arm="y"),
        clicked("i1", "u1", "b", now + timedelta(seconds=5)),  # latest with b: r2, position 1
        clicked("i2", "u1", "a", now + timedelta(seconds=6), rid="r1"),
        clicked("i3", "u2", "f", now + timedelta(seconds=6)),  # never shown: unattributed
    ]
    first = await delivered(store, batch)
    assert len(first) == 6
    assert await delivered(store, batch) == []  # the relay delivered it again
    await store.apply_events([ImpressionSeen("r3", "u2", (1,))])
    await store.apply_events([ImpressionSeen("r3", "u2", (1, 2, 3))])  # the first report counts
    async with store.sessions() as session:
        rows = {r.recommendation_id: r for r in await session.scalars(select(ImpressionRow))}
        daily = {r.arm: r for r in await session.scalars(select(OnlineDaily))}
        arms = {r.arm: r for r in await session.scalars(select(ExperimentArmStats))}
    assert rows["r2"].clicked == [1] and rows["r1"].clicked == [1]
    assert rows["r3"].seen == [1]
    assert (daily["x"].impressions, daily["x"].clicks, daily["x"].items_shown) == (2, 2, 6)
    assert daily["x"].reciprocal_ranks == pytest.approx(2.0)
    assert (daily["y"].impressions, daily["y"].clicks, daily["y"].items_shown) == (1, 0, 1)
    x = arms["x"]
    # One user with n = 2 lists, c = 2 clicked.
    assert (x.users, x.impressions, x.clicks, x.sum_n2, x.sum_c2, x.sum_nc) == (1, 2, 2, 4, 4, 4)


async def test_a_late_click_looks_past_the_lists_shown_after_it(store: Store) -> None:
    """A click sent late (an offline app) names no list: the user's lists shown after it
    cannot take it, and must not fill the `RECENT_PER_USER` lists looked through either."""
    now = datetime.now(UTC)
    then = now - timedelta(hours=2)
    later = [
        impression(f"r{n}", "u1", "bcd", then + timedelta(minutes=1, seconds=n))
        for n in range(RECENT_PER_USER)
    ]
    await delivered(store, [impression("r-shown", "u1", "abc", then), *later])
    await delivered(store, [impression("r-other", "u2", "abc", now)])
    # Another user's click of now in the same batch, as on a shared partition.
    late = clicked("late", "u1", "a", then + timedelta(seconds=30))
    await delivered(store, [late, clicked("now", "u2", "a", now + timedelta(seconds=1))])
    async with store.sessions() as session:
        shown, other = (
            await session.get(ImpressionRow, "r-shown"),
            await session.get(ImpressionRow, "r-other"),
        )
    assert shown is not None and shown.clicked == [1]
    assert other is not None and other.clicked == [1]


async def test_an_interaction_dated_year_one_is_applied_not_retried_forever(store: Store) -> None:
    """Such a batch raised OverflowError on every delivery: on Kafka its partition stopped
    there, on the in-process bus the whole outbox (the relay retried the same claim)."""
    now = datetime.now(UTC)
    await delivered(store, [impression("r1", "u1", "abc", now)])
    batch = [
        clicked("old", "u1", "a", datetime(1, 1, 1, tzinfo=UTC)),
        clicked("i1", "u1", "b", now),
    ]
    assert len(await delivered(store, batch)) == 2
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
    assert row is not None and row.clicked == [2]  # the year-one view credits no list


async def test_the_first_report_counts_when_both_arrive_in_one_batch(store: Store) -> None:
    """A report and its correction share an event id: the worker keeps the first, as it does
    when they arrive in separate batches (processed_events then refuses the second)."""
    now = datetime.now(UTC)
    await delivered(store, [impression("r1", "u1", "abc", now)])
    applied = await store.apply_events(
        [ImpressionSeen("r1", "u1", (1, 2)), ImpressionSeen("r1", "u1", (1,))]
    )
    assert applied.events == [ImpressionSeen("r1", "u1", (1, 2))]
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
        daily = await session.scalar(select(OnlineDaily))
    assert row is not None and row.seen == [1, 2]
    assert daily is not None and daily.items_shown == 2


async def test_a_user_erased_and_back_the_same_day_counts_as_a_user_again(store: Store) -> None:
    """The worker skips (group, user) pairs it knows are stored; an erasure deletes them."""
    now = datetime.now(UTC)
    await delivered(store, [impression("r1", "u1", "abc", now)])
    await store.apply_events([UserDeleted("erase-1", "u1", now)])
    await delivered(store, [impression("r2", "u1", "abc", now + timedelta(seconds=1))])
    async with store.sessions() as session:
        users = list(await session.scalars(select(OnlineUser.user_id)))
    assert users == ["u1"]


def _listed(listing: str) -> tuple[object, object]:
    """A stored list's arm and items."""
    items, _, _, arm, _ = list_head(listing)
    return arm, items


async def aggregates(store: Store) -> tuple[object, ...]:
    async with store.sessions() as session:
        impressions = sorted(
            (
                r.recommendation_id,
                r.user_id,
                from_ms(r.shown_ms).date(),
                *_listed(r.listing),
                r.clicked,
                r.engaged,
            )
            for r in await session.execute(
                select(*ImpressionRow.__table__.c, ServedList.listing).join(
                    ServedList, ServedList.list_id == ImpressionRow.list_id
                )
            )
        )
        daily = sorted(
            (r.day, r.arm, r.impressions, r.items_shown, r.clicks, r.reciprocal_ranks)
            for r in await session.scalars(select(OnlineDaily))
        )
        arms = sorted(
            (r.arm, r.users, r.impressions, r.clicks, r.sum_n2, r.sum_c2, r.sum_nc)
            for r in await session.scalars(select(ExperimentArmStats))
        )
    return impressions, daily, arms


async def test_a_batch_applies_as_its_impressions_one_by_one_and_once(tmp_path: Path) -> None:
    stores = []
    for name in ("singles", "batch"):
        url = f"sqlite+aiosqlite:///{tmp_path / name}.sqlite"
        await upgrade_async(url)
        stores.append(Store(url))
    singles, batched = stores
    at = int(T0.timestamp() * 1000)
    ab = served_list([("a", 0.9), ("b", 0.8)], "v1", "exp", "x", None)
    bc = served_list([("b", 0.9), ("c", 0.8)], "v1", "exp", "y", None)
    shown = [
        ("r1", "u1", ab, at),
        ("r2", "u1", ab, at + 1_000),  # a cached copy: the same list
        ("r3", "u2", bc, at + 2_000),
        ("r4", "u1", ab, at + DAY // timedelta(milliseconds=1)),  # the next day
    ]
    batch = ImpressionBatch.of(shown)
    clicks = [
        clicked("i1", "u1", "b", T0 + timedelta(seconds=5)),  # latest with b: r2, position 2
        clicked("i2", "u2", "c", T0 + timedelta(seconds=6), rid="r3"),
    ]
    await singles.apply_events(batch.impressions())
    await delivered(singles, clicks)
    assert len((await batched.apply_events([batch])).events) == 1
    assert (await batched.apply_events([batch])).events == []  # delivered again: counted once
    await delivered(batched, clicks)
    assert await aggregates(batched) == await aggregates(singles)
    impressions, daily, arms = await aggregates(batched)
    assert [r[5] for r in impressions] == [None, [2], [2], None]
    assert [d[2] for d in daily] == [2, 1, 1]
    assert arms == [("x", 1, 3, 1, 9, 1, 3), ("y", 1, 1, 1, 1, 1, 1)]
    for s in stores:
        await s.close()


async def test_erasing_a_user_takes_their_impressions_out_of_outbox_batches(store: Store) -> None:
    ab = served_list([("a", 0.9), ("b", 0.8)], "v1", None, None, None)
    mixed = ImpressionBatch.of([("r1", "gone", ab, 1), ("r2", "stays", ab, 2)])
    alone = ImpressionBatch.of([("r3", "gone", ab, 3)])
    await store.record_interactions([], [mixed, alone])
    removed = await store.delete_user(UserDeleted("erase-1", "gone", T0))
    assert removed["events"] == 2
    async with store.sessions() as session:
        payloads = [r.payload for r in await session.scalars(select(OutboxRow))]
    kept = [decode_event(p) for p in payloads if p["type"] == ImpressionBatch.type]
    assert kept == [ImpressionBatch.of([("r2", "stays", ab, 2)], mixed.event_id)]
    assert all("gone" not in str(p) for p in payloads if p["type"] != UserDeleted.type)


async def stored(store: Store) -> tuple[list[str], dict[str, str]]:
    """The stored list ids, and which list each impression names."""
    async with store.sessions() as session:
        lists = list(await session.scalars(select(ServedList.list_id)))
        named = await session.execute(
            select(ImpressionRow.recommendation_id, ImpressionRow.list_id)
        )
        return lists, {rid: list_id for rid, list_id in named}


async def test_copies_of_a_list_name_one_stored_list(store: Store) -> None:
    ab = served_list([("a", 0.9), ("b", 0.8)], "v1", None, None, None)
    at = int(T0.timestamp() * 1000)
    await store.apply_events([ImpressionBatch.of([("r1", "u1", ab, at), ("r2", "u2", ab, at + 1)])])
    await store.apply_events([ImpressionBatch.of([("r3", "u1", ab, at + 2)])])
    lists, named = await stored(store)
    assert lists == [list_key(ab)]
    assert named == {"r1": list_key(ab), "r2": list_key(ab), "r3": list_key(ab)}


async def test_a_rolled_back_apply_leaves_no_list_remembered(store: Store) -> None:
    """The worker skips writing lists it knows are stored; a list of a failed transaction
    is not one of them, so the next copy still finds its list."""
    ab = served_list([("a", 0.9), ("b", 0.8)], "v1", None, None, None)
    at = int(T0.timestamp() * 1000)
    with pytest.raises(RuntimeError):
        async with store.sessions.begin() as session:
            failed = ImpressionBatch.of([("r1", "u1", ab, at)])
            await store.online.apply(session, [], [failed], [], [], datetime.now(UTC))
            raise RuntimeError("the apply transaction failed")
    again = ImpressionBatch.of([("r2", "u1", ab, at + 1)])
    await delivered(store, [again, clicked("i1", "u1", "b", T0 + timedelta(seconds=5))])
    lists, named = await stored(store)
    assert (lists, named) == ([list_key(ab)], {"r2": list_key(ab)})
    async with store.sessions() as session:
        assert await session.scalar(select(ImpressionRow.clicked)) == [2]


async def parked(store: Store) -> list[str]:
    async with store.sessions() as session:
        return list(await session.scalars(select(ParkedReport.recommendation_id)))


async def test_reports_before_their_impression_count_once_when_it_arrives(store: Store) -> None:
    """Another partition or relay can deliver a click and a seen report before the
    impression they name: they wait for it, and count once it comes, once."""
    now = datetime.now(UTC)
    ab = served_list([("a", 0.9), ("b", 0.8), ("c", 0.7)], "v1", "exp", "x", None)
    early = [
        clicked("i1", "u1", "b", now + timedelta(seconds=5), rid="r1"),
        ImpressionSeen("r1", "u1", (1, 2)),
    ]
    assert len(await delivered(store, early)) == 2
    assert await parked(store) == ["r1", "r1"]
    batch = ImpressionBatch.of([("r1", "u1", ab, to_ms(now))])
    assert len((await store.apply_events([batch])).events) == 1
    assert await delivered(store, early) == []  # redelivered: processed already
    assert (await store.apply_events([batch])).events == []
    await store.sweep_parked(utcnow() - timedelta(hours=1))
    assert await parked(store) == []
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
        daily = await session.scalar(select(OnlineDaily))
        arm = await session.scalar(select(ExperimentArmStats))
    assert row is not None and (row.clicked, row.seen) == ([2], [1, 2])
    assert daily is not None
    assert (daily.impressions, daily.clicks, daily.items_shown) == (1, 1, 2)
    assert daily.reciprocal_ranks == pytest.approx(0.5)
    assert arm is not None and (arm.impressions, arm.clicks) == (1, 1)


async def parked_beside_its_impression(store: Store, now: datetime) -> None:
    """u1's list r1 (a, b, c) stored, and a click on c naming it parked: what a worker leaves
    when it parks the click while another's transaction stores the list."""
    await delivered(store, [impression("r1", "u1", "abc", now)])
    click = clicked("i1", "u1", "c", now + timedelta(seconds=5), rid="r1")
    await store.record_interactions([click.interaction])
    async with store.sessions.begin() as session:
        await store.online.parked.park(session, [], [click.interaction], now)


async def test_a_report_parked_while_its_impression_was_stored_is_applied_by_the_sweep(
    store: Store,
) -> None:
    """Two workers at once: one parks a click while the other's transaction stores its
    impression, so neither saw the other. The sweep finds the impression stored."""
    now = datetime.now(UTC)
    await parked_beside_its_impression(store, now)
    assert await store.sweep_parked(now - timedelta(hours=1)) == {}
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
    assert row is not None and row.clicked == [3]
    assert await parked(store) == []


def expired(kind: str) -> float:
    value = REGISTRY.get_sample_value("contextiq_parked_reports_expired_total", {"type": kind})
    assert value is not None  # exported at 0 from the start
    return value


async def test_a_report_whose_impression_never_comes_is_dropped_and_counted(store: Store) -> None:
    now = datetime.now(UTC)
    await delivered(
        store, [clicked("i1", "u1", "b", now, rid="r1"), ImpressionSeen("r2", "u1", (1,))]
    )
    # Not yet waited long enough: kept.
    assert await store.sweep_parked(utcnow() - timedelta(hours=1)) == {}
    before = {t: expired(t) for t in ("interaction", "impression_seen")}
    assert await sweep_parked(store, timedelta(0)) == 2
    after = {t: expired(t) for t in before}
    assert {t: after[t] - before[t] for t in before} == {"interaction": 1, "impression_seen": 1}
    assert await parked(store) == []
    # The impression, later still: the dropped click no longer counts.
    await store.apply_events([impression("r1", "u1", "abc", now - timedelta(seconds=1))])
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
    assert row is not None and row.clicked is None


async def test_a_users_parked_reports_are_in_their_export(store: Store) -> None:
    """A report waiting for its impression is the user's data while it waits: as sent."""
    now = datetime.now(UTC)
    click, seen = clicked("i1", "u1", "b", now, rid="r1"), ImpressionSeen("r2", "u1", (1, 2))
    await delivered(store, [click, seen, clicked("i2", "u2", "b", now, rid="r3")])
    export = await store.user_export("u1")
    waiting = [
        (p["event_type"], p["recommendation_id"], p["event"]) for p in export["parked_reports"]
    ]
    assert waiting == [
        ("impression_seen", "r2", seen.to_wire()),
        ("interaction", "r1", click.to_wire()),
    ]
    assert HeldData.model_validate(export).parked_reports[0].parked_at <= utcnow()


async def test_erasure_removes_a_users_parked_reports(store: Store) -> None:
    now = datetime.now(UTC)
    await delivered(
        store,
        [clicked("i1", "gone", "b", now, rid="r1"), clicked("i2", "stays", "b", now, rid="r2")],
    )
    removed = await store.delete_user(UserDeleted("erase-1", "gone", now))
    assert removed["parked_reports"] == 1
    assert await parked(store) == ["r2"]


async def test_a_parked_click_is_the_first_click_of_the_list_its_impression_brings(
    store: Store,
) -> None:
    """A click parked before its impression came first: when the impression arrives with a
    later click on the same list, the parked one still gives the list's reciprocal rank."""
    now = datetime.now(UTC)
    ab = served_list([("a", 0.9), ("b", 0.8), ("c", 0.7)], "v1", "exp", "x", None)
    await delivered(store, [clicked("i1", "u1", "c", now + timedelta(seconds=5), rid="r1")])
    assert await parked(store) == ["r1"]
    batch = ImpressionBatch.of([("r1", "u1", ab, to_ms(now))])
    later = clicked("i2", "u1", "a", now + timedelta(seconds=9), rid="r1")
    assert len(await delivered(store, [batch, later])) == 2
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
        daily = await session.scalar(select(OnlineDaily))
    assert row is not None and row.clicked == [3, 1]
    assert daily is not None and daily.reciprocal_ranks == pytest.approx(1 / 3)


async def test_a_click_applied_while_the_sweep_applies_another_counts_the_list_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers (or a worker and its own sweep): one applies a click on a list while the
    sweep applies a click parked for the same list. Each read the list before the other
    wrote it, so each counted its click as the list's first: two clicked impressions for one
    list, and one of the positions lost."""
    now = datetime.now(UTC)
    await parked_beside_its_impression(store, now)
    other = Store(store.engine.url.render_as_string(hide_password=False))
    loaded = 0
    both = asyncio.Event()
    load = OnlineApplier._load

    async def load_then_meet(self: OnlineApplier, *args: Any) -> dict[str, ImpressionState]:
        """Both reads before either write, where the two are not kept apart."""
        nonlocal loaded
        states = await load(self, *args)
        loaded += 1
        if loaded == 2:
            both.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both.wait(), 0.5)
        return states

    monkeypatch.setattr(OnlineApplier, "_load", load_then_meet)
    click = clicked("i2", "u1", "a", now + timedelta(seconds=9), rid="r1")
    await store.record_interactions([click.interaction])
    try:
        await asyncio.gather(
            store.apply_events([click]), other.sweep_parked(now - timedelta(hours=1))
        )
    finally:
        await other.close()
    async with store.sessions() as session:
        row = await session.get(ImpressionRow, "r1")
        daily = await session.scalar(select(OnlineDaily))
        arm = await session.scalar(select(ExperimentArmStats))
    assert row is not None and sorted(row.clicked or []) == [1, 3]
    assert daily is not None and daily.clicks == 1
    assert arm is not None and arm.clicks == 1
