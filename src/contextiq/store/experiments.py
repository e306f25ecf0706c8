"""Experiments and the online aggregates, as the API reads them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contextiq.domain import as_utc
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.store.store import Store
from contextiq.store.tables import (
    ExperimentArmStats,
    ExperimentRow,
    OnlineDaily,
    OnlineItem,
    OnlineUser,
)

GroupBy = Literal["model_version", "arm", "day"]
COUNTS = ("impressions", "items_shown", "clicks", "likes", "saves", "shares", "dislikes")
#: The PostgreSQL advisory lock that experiment creations take: a key nothing else uses.
_CREATION_LOCK = 4_217_300_511


#: An experiment's distinct users, read from `ix_online_users_experiment` alone.
SERVED_USERS = select(func.count(func.distinct(OnlineUser.user_id))).where(
    OnlineUser.experiment == bindparam("name")
)


class ExperimentConflict(Exception):
    """The name is taken, or another experiment would share its traffic."""


def _name_taken(name: str) -> ExperimentConflict:
    return ExperimentConflict(f"an experiment named {name!r} exists")


async def _one_creation_at_a_time(session: AsyncSession, dialect: str) -> None:
    """Make the transaction's checks and insert run alone, until it ends.

    The overlap rule spans rows, so no constraint holds it: two creations checking at once
    would both pass. PostgreSQL waits on a transaction-scoped advisory lock; under READ
    COMMITTED each later statement then reads what the previous holder committed. SQLite's
    driver begins a transaction only at the first write, so the write lock is taken before the
    reads instead (`BEGIN IMMEDIATE`, waiting out the busy timeout).
    """
    if dialect == "postgresql":
        await session.execute(text(f"SELECT pg_advisory_xact_lock({_CREATION_LOCK})"))
    else:
        await session.execute(text("BEGIN IMMEDIATE"))


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """One group's sums from the aggregate tables."""

    key: tuple[str, ...]
    counts: dict[str, int]
    reciprocal_ranks: float
    users: int
    items: int


@dataclass(frozen=True, slots=True)
class ArmCounts:
    arm: str
    users: int
    impressions: int
    clicks: int
    sum_n2: float
    sum_c2: float
    sum_nc: float
    wins: int
    ties: int


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment(
        name=row.name,
        arms=tuple(
            Arm(a["name"], float(a["weight"]), ArmConfig.from_dict(a.get("config")))
            for a in row.arms
        ),
        interleaving=row.interleaving,
        starts_at=as_utc(row.starts_at),
        ends_at=as_utc(row.ends_at) if row.ends_at else None,
        created_at=as_utc(row.created_at),
        stopped_at=as_utc(row.stopped_at) if row.stopped_at else None,
        winner=row.winner,
        verdict=row.verdict,
        promoted=row.promoted,
    )


class ExperimentStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sessions = store.sessions

    async def create(self, experiment: Experiment) -> None:
        """Insert unless the name exists or its window overlaps a live experiment's.

        Concurrent creations run one after another, so of those that clash all but the first
        are refused, as they would be one by one.
        """
        try:
            await self._insert_alone(experiment)
        except IntegrityError as exc:
            # A backstop should a row get past the lock: the name's primary key is the only
            # constraint a well-formed row can break.
            raise _name_taken(experiment.name) from exc

    async def _insert_alone(self, experiment: Experiment) -> None:
        async with self.sessions.begin() as session:
            await _one_creation_at_a_time(session, self.store.dialect)
            if await session.get(ExperimentRow, experiment.name) is not None:
                raise _name_taken(experiment.name)
            rows = await session.scalars(
                select(ExperimentRow).where(ExperimentRow.stopped_at.is_(None))
            )
            for other in map(_experiment, rows):
                if other.overlaps(experiment):
                    raise ExperimentConflict(
                        f"experiment {other.name!r} runs at the same time: one experiment at a "
                        "time takes the traffic; stop it or schedule this one after it ends"
                    )
            session.add(
                ExperimentRow(
                    name=experiment.name,
                    arms=[
                        {"name": a.name, "weight": a.weight, "config": a.config.as_dict()}
                        for a in experiment.arms
                    ],
                    interleaving=experiment.interleaving,
                    starts_at=experiment.starts_at,
                    ends_at=experiment.ends_at,
                    created_at=experiment.created_at,
                    stopped_at=None,
                    winner=None,
                    verdict=None,
                    promoted=None,
                )
            )

    async def get(self, name: str) -> Experiment | None:
        async with self.sessions() as session:
            row = await session.get(ExperimentRow, name)
            return _experiment(row) if row else None

    async def all(self) -> list[Experiment]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ExperimentRow).order_by(ExperimentRow.starts_at.desc())
            )
            return [_experiment(r) for r in rows]

    async def live(self) -> list[Experiment]:
        """Experiments not stopped by hand (running, scheduled, or past their planned end)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ExperimentRow).where(ExperimentRow.stopped_at.is_(None))
            )
            return [_experiment(r) for r in rows]

    async def stop(
        self,
        name: str,
        at: datetime,
        winner: str | None,
        verdict: str,
        promoted: dict[str, Any] | None,
    ) -> bool:
        """Mark it stopped with the verdict it was stopped on; False if it already was."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(ExperimentRow)
                .where(ExperimentRow.name == name, ExperimentRow.stopped_at.is_(None))
                .values(stopped_at=at, winner=winner, verdict=verdict, promoted=promoted)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def freeze(self, name: str, winner: str | None, verdict: str) -> tuple[str | None, str]:
        """Keep this verdict unless one is kept already; returns the one kept (the first
        of several readers freezing at once)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(ExperimentRow)
                .where(ExperimentRow.name == name, ExperimentRow.verdict.is_(None))
                .values(winner=winner, verdict=verdict)
            )
            row = (
                await session.execute(
                    select(ExperimentRow.winner, ExperimentRow.verdict).where(
                        ExperimentRow.name == name
                    )
                )
            ).one()
            return row.winner, row.verdict or verdict

    async def promoted(self) -> dict[str, Any] | None:
        """The config promoted by the most recently stopped experiment that promoted one."""
        async with self.sessions() as session:
            return await session.scalar(
                select(ExperimentRow.promoted)
                .where(ExperimentRow.promoted.is_not(None))
                .order_by(ExperimentRow.stopped_at.desc())
                .limit(1)
            )

    async def arm_counts(self, name: str) -> dict[str, ArmCounts]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ExperimentArmStats).where(ExperimentArmStats.experiment == name)
            )
            return {
                r.arm: ArmCounts(
                    r.arm,
                    r.users,
                    r.impressions,
                    r.clicks,
                    r.sum_n2,
                    r.sum_c2,
                    r.sum_nc,
                    r.wins,
                    r.ties,
                )
                for r in rows
            }

    async def groups(
        self, by: GroupBy, since: str, until: str, experiment: str | None = None
    ) -> list[GroupCounts]:
        """Sums per group over days `since`..`until` (inclusive, ISO dates).

        With `experiment`, per day and arm, without distinct users (the report's timeline: the
        arms' users come from their own counters, so the report reads no per-user rows).
        """
        keys = {
            "model_version": ("model_version",),
            "arm": ("experiment", "arm"),
            "day": ("day",),
        }[by]
        if experiment is not None:
            keys = ("day", "arm")
        out: dict[tuple[str, ...], dict[str, Any]] = {}
        sums: list[Any] = [func.sum(getattr(OnlineDaily, c)) for c in COUNTS]
        queries: list[tuple[Any, list[Any]]] = [
            (OnlineDaily, [*sums, func.sum(OnlineDaily.reciprocal_ranks)]),
            (OnlineItem, [func.count(func.distinct(OnlineItem.content_id))]),
        ]
        if experiment is None:
            queries.append((OnlineUser, [func.count(func.distinct(OnlineUser.user_id))]))
        async with self.sessions() as session:
            for table, columns in queries:
                group = [getattr(table, k) for k in keys]
                stmt = (
                    select(*group, *columns)
                    .where(table.day >= since, table.day <= until)
                    .group_by(*group)
                )
                if experiment is not None:
                    stmt = stmt.where(table.experiment == experiment)
                elif by == "arm":
                    stmt = stmt.where(table.experiment != "")
                for row in await session.execute(stmt):
                    key = tuple(row[: len(keys)])
                    values = out.setdefault(key, {})
                    values[table.__tablename__] = row[len(keys) :]
        groups = []
        for key in sorted(out):
            daily = out[key].get("online_daily")
            if daily is None:
                continue
            groups.append(
                GroupCounts(
                    key=key,
                    counts={c: int(v or 0) for c, v in zip(COUNTS, daily, strict=False)},
                    reciprocal_ranks=float(daily[len(COUNTS)] or 0.0),
                    users=int((out[key].get("online_users") or (0,))[0]),
                    items=int((out[key].get("online_items") or (0,))[0]),
                )
            )
        return groups

    async def users(self, name: str) -> int:
        """Distinct users an experiment served (interleaved lists have no per-arm counters)."""
        async with self.sessions() as session:
            return int(await session.scalar(SERVED_USERS, {"name": name}) or 0)

    async def arm_items(self, name: str) -> dict[str, int]:
        """Distinct items each arm showed (interleaved lists count for the experiment)."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(OnlineItem.arm, func.count(func.distinct(OnlineItem.content_id)))
                .where(OnlineItem.experiment == name)
                .group_by(OnlineItem.arm)
            )
            return {arm: int(n) for arm, n in rows}


def sorted_arms(counts: dict[str, ArmCounts], names: Sequence[str]) -> list[ArmCounts]:
    """Counts for every arm in the experiment's order, zeros for arms not yet served."""
    return [counts.get(n) or ArmCounts(n, 0, 0, 0, 0.0, 0.0, 0.0, 0, 0) for n in names]
