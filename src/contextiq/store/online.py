"""The worker's side of online metrics: store impressions, attribute interactions, add up.

Runs inside `Store.apply_events`'s transaction, so an impression and the counts it adds
commit together, exactly once: an impression's own id is its idempotency key, interactions
are deduplicated by `processed_events` before they get here.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.domain import Interaction
from contextiq.events.types import (
    ImpressionBatch,
    ImpressionRecorded,
    ImpressionSeen,
    UnknownEvent,
    from_ms,
)
from contextiq.experiments.attribution import ImpressionState, attribute, engage
from contextiq.store.tables import (
    ExperimentArmStats,
    ExperimentUser,
    ImpressionRow,
    OnlineDaily,
    OnlineItem,
    OnlineUser,
)

log = logging.getLogger(__name__)

Group = tuple[str, str, str, str]  # day, model version, experiment, arm
#: How many of a user's latest impressions within the window attribution looks through.
RECENT_PER_USER = 100
_IN_CHUNK = 500


def _day(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date().isoformat()


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class _Deltas:
    """Everything one batch adds to the aggregate tables, written in a few statements."""

    def __init__(self) -> None:
        self.daily: defaultdict[Group, Counter[str]] = defaultdict(Counter)
        self.reciprocal_ranks: defaultdict[Group, float] = defaultdict(float)
        self.users: set[tuple[str, str, str, str, str]] = set()
        self.items: set[tuple[str, str, str, str, str]] = set()
        self.arms: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.arm_users: defaultdict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)

    def shown(self, impression: ImpressionState) -> None:
        self.add(
            impression.group,
            impression.user_id,
            impression.items,
            impression.arms(),
            per_user=impression.teams is None,
        )

    def add(
        self,
        group: Group,
        user_id: str,
        items: Sequence[str] | None,
        arms: Sequence[str],
        per_user: bool,
        n_items: int = 0,
    ) -> None:
        """One impression; `items` None when this batch already added the same list's."""
        daily = self.daily[group]
        daily["impressions"] += 1
        daily["items_shown"] += n_items if items is None else len(items)
        self.users.add((*group, user_id))
        if items is not None:
            self.items.update((*group, content_id) for content_id in items)
        experiment = group[2]
        for arm in arms:
            self.arms[(experiment, arm)]["impressions"] += 1
            if per_user:
                self.arm_users[(experiment, arm, user_id)]["n"] += 1

    def hidden(self, impression: ImpressionState, positions: Iterable[int]) -> None:
        self.daily[impression.group]["items_shown"] -= sum(1 for _ in positions)


class _Listed:
    """A batch's list, as every impression of it is stored and counted."""

    __slots__ = ("arm", "arms", "content_ids", "experiment", "items", "teams", "version")

    def __init__(
        self,
        items: list[list[Any]],
        version: str | None,
        experiment: str | None,
        arm: str | None,
        teams: list[str] | None,
    ) -> None:
        self.items, self.teams = items, teams
        self.version, self.experiment, self.arm = version or "", experiment or "", arm or ""
        self.content_ids = [str(c) for c, _ in items]
        # As `ImpressionState.arms`: both teams when interleaved.
        self.arms = sorted(set(teams)) if teams is not None else [self.arm] if experiment else []


class OnlineApplier:
    def __init__(
        self, insert: Callable[[Any], Any], window: timedelta, remember: int = 2_000_000
    ) -> None:
        self._insert = insert
        self.window = window
        # (group, user) and (group, item) pairs known to be stored: those tables are sets, so
        # skipping a known pair changes nothing, and most impressions add no new pair.
        self._known: set[tuple[str, ...]] = set()
        self._remember = remember
        self._pending: set[tuple[str, ...]] = set()

    def committed(self) -> None:
        """The apply transaction committed: its new pairs are known from now on."""
        if len(self._known) + len(self._pending) > self._remember:
            self._known.clear()
        self._known |= self._pending
        self._pending = set()

    async def apply(
        self,
        session: AsyncSession,
        impressions: Sequence[ImpressionRecorded],
        batches: Sequence[ImpressionBatch],
        seen: Sequence[ImpressionSeen],
        interactions: Sequence[Interaction],
    ) -> list[ImpressionRecorded]:
        """Store new impressions and fold everything into the aggregates; returns the new
        single ones (`batches` are new already: `processed_events` deduplicated them)."""
        deltas = _Deltas()
        self._pending = set()
        fresh = await self._store_impressions(session, impressions)
        for event in fresh:
            deltas.shown(_state(event))
        await self._store_batches(session, batches, deltas)
        states = await self._load(session, seen, interactions)
        for report in seen:
            state = states.get(report.recommendation_id)
            if state is None or state.user_id != report.user_id or state.seen is not None:
                continue
            shown = set(report.positions)
            state.seen = sorted(p for p in shown if 1 <= p <= len(state.items))
            state.dirty = True
            deltas.hidden(state, [p for p in range(1, len(state.items) + 1) if p not in shown])
        self._attribute(states, interactions, deltas)
        await self._save_states(session, [s for s in states.values() if s.dirty])
        await self._write(session, deltas)
        return fresh

    async def _store_impressions(
        self, session: AsyncSession, impressions: Sequence[ImpressionRecorded]
    ) -> list[ImpressionRecorded]:
        unique = {e.recommendation_id: e for e in impressions}
        if not unique:
            return []
        stmt = (
            self._insert(ImpressionRow)
            .on_conflict_do_nothing(index_elements=["recommendation_id"])
            .returning(ImpressionRow.recommendation_id)
        )
        rows = [
            {
                "recommendation_id": e.recommendation_id,
                "user_id": e.user_id,
                "shown_at": e.shown_at,
                "day": _day(e.shown_at),
                "model_version": e.model_version or "",
                "experiment": e.experiment or "",
                "arm": e.arm or "",
                "items": [[c, s] for c, s in e.items],
                "teams": None if e.teams is None else list(e.teams),
                "seen": None,
                "engaged": 0,
                "clicked": None,
            }
            for e in unique.values()
        ]
        inserted = set((await session.execute(stmt, rows)).scalars())
        return [e for e in unique.values() if e.recommendation_id in inserted]

    async def _store_batches(
        self, session: AsyncSession, batches: Sequence[ImpressionBatch], deltas: _Deltas
    ) -> None:
        """One executemany for every impression of the batches; each list decoded, and its
        items added to the aggregates, once per batch and day."""
        rows: list[dict[str, Any]] = []
        for batch in batches:
            try:
                lists = [_Listed(*head) for head in batch.heads()]
            except UnknownEvent as exc:
                log.warning("skipping an impression batch this version cannot read: %s", exc)
                continue
            counted: set[tuple[int, str]] = set()
            days: dict[int, str] = {}
            for rid, user, index, at in batch.shown:
                listed = lists[index]
                shown_at = from_ms(at)
                day = days.get(at // 86_400_000) or days.setdefault(
                    at // 86_400_000, shown_at.date().isoformat()
                )
                rows.append(
                    {
                        "recommendation_id": rid,
                        "user_id": user,
                        "shown_at": shown_at,
                        "day": day,
                        "model_version": listed.version,
                        "experiment": listed.experiment,
                        "arm": listed.arm,
                        "items": listed.items,
                        "teams": listed.teams,
                    }
                )
                first = (index, day) not in counted
                counted.add((index, day))
                deltas.add(
                    (day, listed.version, listed.experiment, listed.arm),
                    user,
                    listed.content_ids if first else None,
                    listed.arms,
                    per_user=listed.teams is None,
                    n_items=len(listed.items),
                )
        if rows:
            stmt = self._insert(ImpressionRow).on_conflict_do_nothing(
                index_elements=["recommendation_id"]
            )
            await session.execute(stmt, rows)

    async def _load(
        self,
        session: AsyncSession,
        seen: Sequence[ImpressionSeen],
        interactions: Sequence[Interaction],
    ) -> dict[str, ImpressionState]:
        """The impressions this batch can touch: named ones, and each user's recent ones."""
        table = cast(Table, ImpressionRow.__table__)
        states: dict[str, ImpressionState] = {}
        named = list(
            {e.recommendation_id for e in seen}
            | {i.recommendation_id for i in interactions if i.recommendation_id}
        )
        for start in range(0, len(named), _IN_CHUNK):
            chunk = named[start : start + _IN_CHUNK]
            rows = await session.execute(select(table).where(table.c.recommendation_id.in_(chunk)))
            states.update((r.recommendation_id, _row_state(r)) for r in rows)
        unnamed = [i for i in interactions if not i.recommendation_id]
        users = sorted({i.user_id for i in unnamed})
        if users:
            since = min(_utc(i.occurred_at) for i in unnamed) - self.window
            for start in range(0, len(users), _IN_CHUNK):
                ranked = (
                    select(
                        table,
                        func.row_number()
                        .over(partition_by=table.c.user_id, order_by=table.c.shown_at.desc())
                        .label("rank"),
                    )
                    .where(
                        table.c.user_id.in_(users[start : start + _IN_CHUNK]),
                        table.c.shown_at >= since,
                    )
                    .subquery()
                )
                rows = await session.execute(select(ranked).where(ranked.c.rank <= RECENT_PER_USER))
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
                    self._insert(table).on_conflict_do_nothing(),
                    [dict(zip(keys, k, strict=True)) for k in new],
                )
                self._pending.update((column, *k) for k in new)
        await self._write_arms(session, deltas)

    async def _write_daily(self, session: AsyncSession, deltas: _Deltas) -> None:
        groups = sorted(set(deltas.daily) | set(deltas.reciprocal_ranks))
        if not groups:
            return
        columns = ("impressions", "items_shown", "clicks", "likes", "saves", "shares", "dislikes")
        stmt = self._insert(OnlineDaily)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "model_version", "experiment", "arm"],
            set_={
                **{c: getattr(OnlineDaily, c) + stmt.excluded[c] for c in columns},
                "reciprocal_ranks": OnlineDaily.reciprocal_ranks + stmt.excluded.reciprocal_ranks,
            },
        )
        await session.execute(
            stmt,
            [
                {
                    "day": g[0],
                    "model_version": g[1],
                    "experiment": g[2],
                    "arm": g[3],
                    **{c: deltas.daily[g][c] for c in columns},
                    "reciprocal_ranks": deltas.reciprocal_ranks[g],
                }
                for g in groups
            ],
        )

    async def _write_arms(self, session: AsyncSession, deltas: _Deltas) -> None:
        """Per-user counts first: their old and new values give the change of the sums."""
        sums: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        if deltas.arm_users:
            stmt = self._insert(ExperimentUser)
            stmt = stmt.on_conflict_do_update(
                index_elements=["experiment", "arm", "user_id"],
                set_={
                    "impressions": ExperimentUser.impressions + stmt.excluded.impressions,
                    "clicks": ExperimentUser.clicks + stmt.excluded.clicks,
                },
            ).returning(
                ExperimentUser.experiment,
                ExperimentUser.arm,
                ExperimentUser.user_id,
                ExperimentUser.impressions,
                ExperimentUser.clicks,
            )
            users = sorted(deltas.arm_users)
            rows = await session.execute(
                stmt,
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
        columns = ("users", "impressions", "clicks", "sum_n2", "sum_c2", "sum_nc", "wins", "ties")
        stmt = self._insert(ExperimentArmStats)
        stmt = stmt.on_conflict_do_update(
            index_elements=["experiment", "arm"],
            set_={c: getattr(ExperimentArmStats, c) + stmt.excluded[c] for c in columns},
        )
        await session.execute(
            stmt,
            [
                {"experiment": k[0], "arm": k[1]}
                | {c: deltas.arms[k][c] + sums[k][c] for c in columns}
                for k in keys
            ],
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
    return replace(interaction, occurred_at=_utc(interaction.occurred_at))


def _state(event: ImpressionRecorded) -> ImpressionState:
    return ImpressionState(
        recommendation_id=event.recommendation_id,
        user_id=event.user_id,
        shown_at=_utc(event.shown_at),
        day=_day(event.shown_at),
        model_version=event.model_version or "",
        experiment=event.experiment or "",
        arm=event.arm or "",
        items=[c for c, _ in event.items],
        teams=None if event.teams is None else list(event.teams),
    )


def _row_state(row: Any) -> ImpressionState:
    return ImpressionState(
        recommendation_id=row.recommendation_id,
        user_id=row.user_id,
        shown_at=_utc(row.shown_at),
        day=row.day,
        model_version=row.model_version,
        experiment=row.experiment,
        arm=row.arm,
        items=[c for c, _ in row.items],
        teams=row.teams,
        seen=row.seen,
        engaged=row.engaged,
        clicked=list(row.clicked or ()),
    )
