"""The worker's side of online metrics: store impressions, attribute interactions, add up.

Runs inside `Store.apply_events`'s transaction, so an impression and the counts it adds
commit together, exactly once: an impression's own id is its idempotency key, interactions
are deduplicated by `processed_events` before they get here.

A served list is stored once (`served_lists`, keyed by a hash of its JSON) and an impression
as a narrow row naming it: most impressions are copies of a cached list, and writing each
one's items again cost the worker more than the answer cost the server. The lists a worker
has stored, and each one's items counted per day, are remembered, so a copy of a known list
costs one row and a few set lookups.
"""

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.domain import EPOCH, Interaction, as_utc
from contextiq.events.types import (
    ImpressionBatch,
    ImpressionRecorded,
    ImpressionSeen,
    from_ms,
    list_head,
    served_list,
)
from contextiq.experiments.attribution import ImpressionState, attribute, engage
from contextiq.store.parked import ParkedReports
from contextiq.store.tables import (
    ExperimentArmStats,
    ExperimentUser,
    ImpressionRow,
    OnlineDaily,
    OnlineItem,
    OnlineUser,
    ServedList,
)

log = logging.getLogger(__name__)

Group = tuple[str, str, str, str]  # day, model version, experiment, arm
#: How many of a user's latest impressions within the window attribution looks through.
RECENT_PER_USER = 100
#: A click this much older than its batch's newest is late: no one is shown RECENT_PER_USER
#: lists in a minute, so up to this much later the batch's newest time bounds the look.
LATE_MS = 60_000
_IN_CHUNK = 500
DAY_MS = 86_400_000
DAILY_COUNTS = ("impressions", "items_shown", "clicks", "likes", "saves", "shares", "dislikes")
ARM_COUNTS = ("users", "impressions", "clicks", "sum_n2", "sum_c2", "sum_nc", "wins", "ties")
#: The PostgreSQL advisory lock attribution takes (a key nothing else uses): shared by applies,
#: held alone by the parked sweep.
_ATTRIBUTION_LOCK = 4_217_300_512


def list_key(listing: str) -> str:
    """A served list's key in `served_lists`: 128 bits of a hash of its `served_list` JSON
    (a collision is out of reach at any number of lists; an equal list written differently
    only gets a second row)."""
    return hashlib.blake2b(listing.encode(), digest_size=16).hexdigest()


def to_ms(at: datetime) -> int:
    """ms since the epoch, exactly (a naive time is UTC)."""
    return (as_utc(at) - EPOCH) // timedelta(milliseconds=1)


class _Listed(NamedTuple):
    """A served list as the worker stores and counts it, decoded once per process. Tuples
    of strings only: the garbage collector stops tracking them, so a cache of thousands
    costs no collection time."""

    listing: str
    list_id: str
    version: str
    experiment: str
    arm: str
    content_ids: tuple[str, ...]
    #: As `ImpressionState.arms`: both teams when interleaved.
    arms: tuple[str, ...]
    teams: tuple[str, ...] | None

    @classmethod
    def of(cls, listing: str) -> "_Listed":
        """Raises `ValueError` or `TypeError` for a malformed list."""
        items, version, experiment, arm, teams = list_head(listing)
        team = None if teams is None else tuple(str(t) for t in teams)
        return cls(
            listing,
            list_key(listing),
            version or "",
            experiment or "",
            arm or "",
            tuple(str(c) for c, _ in items),
            tuple(sorted(set(team))) if team is not None else (arm or "",) if experiment else (),
            team,
        )


#: An impression to store: (recommendation_id, user_id, its list, shown at in ms since the epoch).
_Shown = tuple[str, str, _Listed, int]


class _Deltas:
    """Everything one batch adds to the aggregate tables, written in a few statements."""

    def __init__(self) -> None:
        self.daily: defaultdict[Group, Counter[str]] = defaultdict(Counter)
        self.reciprocal_ranks: defaultdict[Group, float] = defaultdict(float)
        self.users: set[tuple[str, str, str, str, str]] = set()
        self.items: set[tuple[str, str, str, str, str]] = set()
        self.arms: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.arm_users: defaultdict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)

    def shown(self, day: str, listed: _Listed, users: Sequence[str], items: bool) -> None:
        """Impressions of one list on one day, one per entry of `users`; `items` False when
        that list's items are already counted for the day."""
        group = (day, listed.version, listed.experiment, listed.arm)
        n = len(users)
        daily = self.daily[group]
        daily["impressions"] += n
        daily["items_shown"] += n * len(listed.content_ids)
        self.users.update([(*group, user_id) for user_id in users])
        if items:
            self.items.update([(*group, content_id) for content_id in listed.content_ids])
        for arm in listed.arms:
            self.arms[(listed.experiment, arm)]["impressions"] += n
            if listed.teams is None:
                for user_id in users:
                    self.arm_users[(listed.experiment, arm, user_id)]["n"] += 1

    def hidden(self, impression: ImpressionState, positions: int) -> None:
        self.daily[impression.group]["items_shown"] -= positions


class OnlineApplier:
    def __init__(
        self,
        insert: Callable[[Any], Any],
        window: timedelta,
        dialect: str,
        remember: int = 2_000_000,
        remember_lists: int = 4_096,
    ) -> None:
        self.window = window
        self._dialect = dialect
        # Statements built once: building an upsert costs more than running it (~0.5 ms).
        self._insert_lists = insert(ServedList).on_conflict_do_nothing(index_elements=["list_id"])
        self._insert_impressions = insert(ImpressionRow).on_conflict_do_nothing(
            index_elements=["recommendation_id"]
        )
        self._insert_pairs = {
            t: insert(t).on_conflict_do_nothing() for t in (OnlineUser, OnlineItem)
        }
        self._add_daily = _adding(insert, OnlineDaily, (*DAILY_COUNTS, "reciprocal_ranks"))
        self._add_arm_users = _adding(insert, ExperimentUser, ("impressions", "clicks")).returning(
            ExperimentUser.experiment,
            ExperimentUser.arm,
            ExperimentUser.user_id,
            ExperimentUser.impressions,
            ExperimentUser.clicks,
        )
        self._add_arms = _adding(insert, ExperimentArmStats, ARM_COUNTS)
        # Keys known to be stored: (group, user) and (group, item) pairs, lists, and lists
        # whose items a day counted. Those tables are sets, so skipping a known key changes
        # nothing, and most impressions add no new key.
        self._known: set[tuple[str, ...]] = set()
        self._remember = remember
        self._pending: set[tuple[str, ...]] = set()
        # Decoded lists by their JSON: a cached list arrives again in every batch.
        self._lists: dict[str, _Listed] = {}
        self._remember_lists = remember_lists
        self.parked = ParkedReports(insert)

    def committed(self) -> None:
        """The apply transaction committed: its new keys are known from now on."""
        if len(self._known) + len(self._pending) > self._remember:
            self._known.clear()
        self._known |= self._pending
        self._pending = set()

    def forget(self) -> None:
        """An erasure deleted rows this worker knew were stored (the user's `online_users`
        pairs): forget every key, or the user's next list that day would not be counted.
        Erasures are rare, and a key no longer known only costs an insert that finds it."""
        self._known.clear()
        self._pending.clear()

    async def apply(
        self,
        session: AsyncSession,
        impressions: Sequence[ImpressionRecorded],
        batches: Sequence[ImpressionBatch],
        seen: Sequence[ImpressionSeen],
        interactions: Sequence[Interaction],
        now: datetime,
    ) -> list[ImpressionRecorded]:
        """Store new impressions and fold everything into the aggregates, with the reports
        parked for those impressions; returns the new single ones (`batches` are new
        already: `processed_events` deduplicated them)."""
        deltas = _Deltas()
        self._pending = set()
        await self._attribution_turn(session, alone=False)
        fresh = await self._store_singles(session, impressions, deltas)
        rows = self._batch_rows(batches)
        await self._store(session, rows, deltas)
        stored = [e.recommendation_id for e in fresh] + [r[0] for r in rows]
        late_seen, late = await self.parked.take(session, stored)
        # Parked clicks came before this batch's: a list's first click gives its rank.
        await self._report(session, [*seen, *late_seen], [*late, *interactions], deltas, now)
        return fresh

    async def settle_parked(self, session: AsyncSession, now: datetime) -> None:
        """Apply the parked reports whose impression is stored by now (see `take_stored`)."""
        self._pending = set()
        await self._attribution_turn(session, alone=True)
        seen, interactions = await self.parked.take_stored(session)
        await self._report(session, seen, interactions, _Deltas(), now)

    async def _attribution_turn(self, session: AsyncSession, alone: bool) -> None:
        """Keep the sweep's attribution apart from every apply's, until the transaction ends.

        The sweep applies reports parked for any user, so it can touch a list that an apply
        (another worker's, or this one's) is changing: each would read it before the other
        wrote it and count its click as the list's first. Applies touch disjoint users (Kafka
        keys events by user) and share the lock; the sweep, every 30 s, waits for them and
        holds it alone. Under READ COMMITTED each later statement reads what the other wrote.
        SQLite lets one transaction write at a time: its first statement already writes.
        """
        if self._dialect == "postgresql":
            how = "" if alone else "_shared"
            await session.execute(text(f"SELECT pg_advisory_xact_lock{how}({_ATTRIBUTION_LOCK})"))

    async def _report(
        self,
        session: AsyncSession,
        seen: Sequence[ImpressionSeen],
        interactions: Sequence[Interaction],
        deltas: _Deltas,
        now: datetime,
    ) -> None:
        """Fold seen reports and interactions into the aggregates; those naming an
        impression not stored yet are parked for it."""
        states = await self._load(session, seen, interactions)
        await self.parked.park(
            session,
            [r for r in seen if r.recommendation_id not in states],
            [i for i in interactions if i.recommendation_id and i.recommendation_id not in states],
            now,
        )
        for report in seen:
            state = states.get(report.recommendation_id)
            if state is None or state.user_id != report.user_id or state.seen is not None:
                continue
            shown = set(report.positions)
            state.seen = sorted(p for p in shown if 1 <= p <= len(state.items))
            state.dirty = True
            deltas.hidden(state, sum(1 for p in range(1, len(state.items) + 1) if p not in shown))
        self._attribute(states, interactions, deltas)
        await self._save_states(session, [s for s in states.values() if s.dirty])
        await self._write(session, deltas)

    def _listed(self, listing: str) -> _Listed:
        """The decoded list; raises `ValueError` or `TypeError` for a malformed one."""
        listed = self._lists.get(listing)
        if listed is None:
            if len(self._lists) >= self._remember_lists:
                self._lists.clear()
            listed = self._lists[listing] = _Listed.of(listing)
        return listed

    def _batch_rows(self, batches: Sequence[ImpressionBatch]) -> list[_Shown]:
        rows: list[_Shown] = []
        for batch in batches:
            try:
                lists = [self._listed(listing) for listing in batch.lists]
            except (TypeError, ValueError) as exc:
                log.warning("skipping an impression batch this version cannot read: %r", exc)
                continue
            rows.extend((rid, user, lists[index], at) for rid, user, index, at in batch.shown)
        return rows

    async def _store_singles(
        self, session: AsyncSession, impressions: Sequence[ImpressionRecorded], deltas: _Deltas
    ) -> list[ImpressionRecorded]:
        """Impressions sent one per event (before batches): new ones are those not stored."""
        unique = {e.recommendation_id: e for e in impressions}
        rows: list[_Shown] = []
        for e in unique.values():
            listing = served_list(e.items, e.model_version, e.experiment, e.arm, e.teams)
            rows.append((e.recommendation_id, e.user_id, self._listed(listing), to_ms(e.shown_at)))
        inserted = await self._store(session, rows, deltas, returning=True)
        return [e for e in unique.values() if e.recommendation_id in inserted]

    async def _store(
        self, session: AsyncSession, rows: list[_Shown], deltas: _Deltas, returning: bool = False
    ) -> set[str]:
        """Lists not known to be stored, then one executemany for the impressions, then
        their counts per list and day. With `returning`, only the impressions not stored
        before count, and their ids are returned."""
        if not rows:
            return set()
        lists = {r[2].list_id: r[2] for r in rows if ("list", r[2].list_id) not in self._known}
        if lists:
            await session.execute(
                self._insert_lists,
                [{"list_id": key, "listing": listed.listing} for key, listed in lists.items()],
            )
            self._pending.update(("list", list_id) for list_id in lists)
        values = [
            {"recommendation_id": rid, "user_id": user, "shown_ms": at, "list_id": listed.list_id}
            for rid, user, listed, at in rows
        ]
        inserted: set[str] = set()
        if returning:
            stmt = self._insert_impressions.returning(ImpressionRow.recommendation_id)
            inserted = set((await session.execute(stmt, values)).scalars())
            rows = [r for r in rows if r[0] in inserted]
        else:
            await session.execute(self._insert_impressions, values)
        by_list: dict[tuple[str, int], tuple[_Listed, list[str]]] = {}
        for _, user, listed, at in rows:
            by_list.setdefault((listed.list_id, at // DAY_MS), (listed, []))[1].append(user)
        for (list_id, day_number), (listed, users) in by_list.items():
            day = from_ms(day_number * DAY_MS).date().isoformat()
            counted = ("items", day, list_id)
            deltas.shown(day, listed, users, items=counted not in self._known)
            self._pending.add(counted)
        return inserted

    async def _load(
        self,
        session: AsyncSession,
        seen: Sequence[ImpressionSeen],
        interactions: Sequence[Interaction],
    ) -> dict[str, ImpressionState]:
        """The impressions this batch can touch, with their lists: named ones, and each
        user's recent ones."""
        table = cast(Table, ImpressionRow.__table__)
        lists = cast(Table, ServedList.__table__)
        states: dict[str, ImpressionState] = {}
        named = list(
            {e.recommendation_id for e in seen}
            | {i.recommendation_id for i in interactions if i.recommendation_id}
        )
        for start in range(0, len(named), _IN_CHUNK):
            chunk = named[start : start + _IN_CHUNK]
            rows = await session.execute(
                select(table, lists.c.listing)
                .join_from(table, lists, table.c.list_id == lists.c.list_id)
                .where(table.c.recommendation_id.in_(chunk))
            )
            states.update((r.recommendation_id, _row_state(r)) for r in rows)
        unnamed = [i for i in interactions if not i.recommendation_id]
        # Each user's newest such click: lists shown after it cannot take a click, and must
        # not fill the RECENT_PER_USER looked through (a click sent late by an offline app,
        # in a batch with other users' clicks of now).
        clicked_ms = [(i.user_id, to_ms(as_utc(i.occurred_at))) for i in unnamed]
        newest: dict[str, int] = {}
        for user, at in clicked_ms:
            newest[user] = max(at, newest.get(user, at))
        users = sorted(newest)
        if not users:
            return states
        # In ms: `occurred_at - window` overflows for a time near year 1 (accepted).
        since = min(at for _, at in clicked_ms) - self.window // timedelta(milliseconds=1)
        latest = max(newest.values())
        for start in range(0, len(users), _IN_CHUNK):
            chunk = users[start : start + _IN_CHUNK]
            # A bound of its own only for a user whose click came late: each such bound costs
            # every candidate row a comparison (docs/benchmarks.md).
            late = {u: newest[u] for u in chunk if newest[u] < latest - LATE_MS}
            until = case(late, value=table.c.user_id, else_=latest) if late else latest
            ranked = (
                select(
                    table,
                    func.row_number()
                    .over(partition_by=table.c.user_id, order_by=table.c.shown_ms.desc())
                    .label("rank"),
                )
                .where(
                    table.c.user_id.in_(chunk),
                    table.c.shown_ms >= since,
                    table.c.shown_ms <= until,
                )
                .subquery()
            )
            rows = await session.execute(
                select(ranked, lists.c.listing)
                .join_from(ranked, lists, ranked.c.list_id == lists.c.list_id)
                .where(ranked.c.rank <= RECENT_PER_USER)
            )
            for r in rows:
                states.setdefault(r.recommendation_id, _row_state(r))
        return states

    def _attribute(
        self,
        states: dict[str, ImpressionState],
        interactions: Sequence[Interaction],
        deltas: _Deltas,
    ) -> None:
        recent: defaultdict[str, list[ImpressionState]] = defaultdict(list)
        for state in states.values():
            recent[state.user_id].append(state)
        for listed in recent.values():
            listed.sort(key=lambda s: s.shown_at, reverse=True)
        for interaction in interactions:
            interaction = _as_utc(interaction)
            found = attribute(interaction, states, recent.get(interaction.user_id, ()), self.window)
            if found is None:
                continue
            state, position = found
            effect = engage(state, interaction.interaction_type, position)
            group = state.group
            if effect.column is not None:
                deltas.daily[group][effect.column] += 1
            if effect.reciprocal_rank:
                deltas.reciprocal_ranks[group] += effect.reciprocal_rank
            if effect.new_click and state.experiment:
                _count_click(deltas, state, position, effect.reciprocal_rank > 0)
            if effect.outcome_change is not None:
                _credit(deltas, state, *effect.outcome_change)

    async def _save_states(self, session: AsyncSession, states: list[ImpressionState]) -> None:
        if not states:
            return
        table = cast(Table, ImpressionRow.__table__)
        await session.execute(
            update(table)
            .where(table.c.recommendation_id == bindparam("rid"))
            .values(
                engaged=bindparam("engaged"),
                clicked=bindparam("clicked_positions"),
                seen=bindparam("seen_positions"),
            ),
            [
                {
                    "rid": s.recommendation_id,
                    "engaged": s.engaged,
                    "clicked_positions": s.clicked or None,
                    "seen_positions": s.seen,
                }
                for s in states
            ],
        )

    async def _write(self, session: AsyncSession, deltas: _Deltas) -> None:
        await self._write_daily(session, deltas)
        for table, column, pairs in (
            (OnlineUser, "user_id", deltas.users),
            (OnlineItem, "content_id", deltas.items),
        ):
            new = sorted(k for k in pairs if (column, *k) not in self._known)
            if new:
                keys = ("day", "model_version", "experiment", "arm", column)
                await session.execute(
                    self._insert_pairs[table], [dict(zip(keys, k, strict=True)) for k in new]
                )
                self._pending.update((column, *k) for k in new)
        await self._write_arms(session, deltas)

    async def _write_daily(self, session: AsyncSession, deltas: _Deltas) -> None:
        groups = sorted(set(deltas.daily) | set(deltas.reciprocal_ranks))
        if not groups:
            return
        await session.execute(
            self._add_daily,
            [
                {
                    "day": g[0],
                    "model_version": g[1],
                    "experiment": g[2],
                    "arm": g[3],
                    **{c: deltas.daily[g][c] for c in DAILY_COUNTS},
                    "reciprocal_ranks": deltas.reciprocal_ranks[g],
                }
                for g in groups
            ],
        )

    async def _write_arms(self, session: AsyncSession, deltas: _Deltas) -> None:
        """Per-user counts first: their old and new values give the change of the sums."""
        sums: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        if deltas.arm_users:
            users = sorted(deltas.arm_users)
            rows = await session.execute(
                self._add_arm_users,
                [
                    {
                        "experiment": k[0],
                        "arm": k[1],
                        "user_id": k[2],
                        "impressions": deltas.arm_users[k]["n"],
                        "clicks": deltas.arm_users[k]["c"],
                    }
                    for k in users
                ],
            )
            for row in rows:
                added = deltas.arm_users[(row.experiment, row.arm, row.user_id)]
                n, c = int(row.impressions), int(row.clicks)
                n0, c0 = n - added["n"], c - added["c"]
                arm = sums[(row.experiment, row.arm)]
                arm["users"] += 1 if n0 == 0 and n > 0 else 0
                arm["sum_n2"] += n * n - n0 * n0
                arm["sum_c2"] += c * c - c0 * c0
                arm["sum_nc"] += n * c - n0 * c0
        keys = sorted(set(deltas.arms) | set(sums))
        if not keys:
            return
        await session.execute(
            self._add_arms,
            [
                {"experiment": k[0], "arm": k[1]}
                | {c: deltas.arms[k][c] + sums[k][c] for c in ARM_COUNTS}
                for k in keys
            ],
        )


def _adding(insert: Callable[[Any], Any], table: Any, columns: Sequence[str]) -> Any:
    """An upsert on `table`'s primary key that adds each of `columns` to the stored row."""
    stmt = insert(table)
    keys = [c.name for c in table.__table__.primary_key]
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c: getattr(table, c) + stmt.excluded[c] for c in columns}
    )


def _count_click(deltas: _Deltas, state: ImpressionState, position: int, first: bool) -> None:
    """An arm's clicks count impressions with at least one click on its items."""
    if state.teams is None:
        if first:
            deltas.arms[(state.experiment, state.arm)]["clicks"] += 1
            deltas.arm_users[(state.experiment, state.arm, state.user_id)]["c"] += 1
        return
    team = state.teams[position - 1]
    if [state.teams[p - 1] for p in state.clicked].count(team) == 1:
        deltas.arms[(state.experiment, team)]["clicks"] += 1


def _credit(deltas: _Deltas, state: ImpressionState, before: str | None, after: str | None) -> None:
    """Move an interleaved impression between outcomes: a win for one team, or a tie."""
    for result, sign in ((before, -1), (after, 1)):
        if result == "tie":
            for arm in state.arms():
                deltas.arms[(state.experiment, arm)]["ties"] += sign
        elif result is not None:
            deltas.arms[(state.experiment, result)]["wins"] += sign


def _as_utc(interaction: Interaction) -> Interaction:
    if interaction.occurred_at.tzinfo is not None:
        return interaction
    return replace(interaction, occurred_at=as_utc(interaction.occurred_at))


def _row_state(row: Any) -> ImpressionState:
    shown_at = from_ms(row.shown_ms)
    items, version, experiment, arm, teams = list_head(row.listing)
    return ImpressionState(
        recommendation_id=row.recommendation_id,
        user_id=row.user_id,
        shown_at=shown_at,
        day=shown_at.date().isoformat(),
        model_version=version or "",
        experiment=experiment or "",
        arm=arm or "",
        items=[c for c, _ in items],
        teams=teams,
        seen=row.seen,
        engaged=row.engaged,
        clicked=list(row.clicked or ()),
    )
