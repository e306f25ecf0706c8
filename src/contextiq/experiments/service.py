"""Experiments as the API runs them: create, report, stop (and promote), online metrics."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contextiq.experiments.definitions import ArmConfig, Experiment
from contextiq.experiments.metrics import online_metrics
from contextiq.experiments.report import Thresholds, ab_arms, interleaved_arms
from contextiq.experiments.runtime import ExperimentRuntime
from contextiq.recommend.models import ModelHolder
from contextiq.store.experiments import (
    COUNTS,
    ExperimentStore,
    GroupBy,
    GroupCounts,
    sorted_arms,
)
from contextiq.store.store import Store


class InvalidExperiment(ValueError):
    """The definition cannot run (bad arms, unknown model version or family, bad window)."""


class NoWinner(Exception):
    """Promotion asked for, but the report names no winner (or it was stopped already)."""


class Unpromotable(Exception):
    """The winner's model version cannot be loaded (its files damaged or removed since the
    experiment began): made active, every process started afterwards would serve none."""


def _day(d: date) -> str:
    return d.isoformat()


class ExperimentService:
    def __init__(
        self,
        store: Store,
        experiments: ExperimentStore,
        runtime: ExperimentRuntime,
        models: ModelHolder,
        thresholds: Thresholds,
    ) -> None:
        self.store = store
        self.experiments = experiments
        self.runtime = runtime
        self.models = models
        self.thresholds = thresholds

    async def create(self, experiment: Experiment) -> dict[str, Any]:
        names = [a.name for a in experiment.arms]
        if len(set(names)) != len(names):
            raise InvalidExperiment("arm names must be unique")
        if experiment.interleaving and len(names) != 2:
            raise InvalidExperiment("an interleaved experiment compares exactly two arms")
        if experiment.ends_at is not None and experiment.ends_at <= experiment.starts_at:
            raise InvalidExperiment("ends_at must be after starts_at")
        if experiment.ends_at is not None and experiment.ends_at <= datetime.now(UTC):
            # It would end at its first report, with a verdict on no data kept for good.
            raise InvalidExperiment("ends_at is past: an experiment must end in the future")
        registry = self.models.registry
        for arm in experiment.arms:
            version, family = arm.config.model_version, arm.config.model_family
            if version is not None:
                # Loaded, not just looked up: an arm on a version it cannot load would serve
                # the active model under the arm's name, and its report compare nothing.
                try:
                    await asyncio.to_thread(registry.load, version)
                except KeyError as exc:
                    raise InvalidExperiment(
                        f"arm {arm.name!r}: model version {version!r} is not registered"
                    ) from exc
                except Exception as exc:  # whatever its damaged files raise, as `models promote`
                    raise InvalidExperiment(
                        f"arm {arm.name!r}: model version {version!r} cannot be loaded: {exc}"
                    ) from exc
            if (
                family is not None
                and await asyncio.to_thread(registry.family_version, family) is None
            ):
                # Else the arm would serve the default's model until the worker's next round.
                raise InvalidExperiment(
                    f"arm {arm.name!r}: no version of model family {family!r} is trained yet;"
                    f" run `contextiq train --family {family}` first"
                )
        await self.experiments.create(experiment)
        await self.runtime.refresh()
        return await self.report(experiment.name) or {}

    async def list(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [_summary(e, now) for e in await self.experiments.all()]

    async def report(self, name: str) -> dict[str, Any] | None:
        experiment = await self.experiments.get(name)
        if experiment is None:
            return None
        names = [a.name for a in experiment.arms]
        counts = sorted_arms(await self.experiments.arm_counts(name), names)
        judge = interleaved_arms if experiment.interleaving else ab_arms
        arms, winner_now, verdict_now, srm_p_value = judge(experiment, counts, self.thresholds)
        winner, verdict = await self._final(experiment, winner_now, verdict_now)
        catalogue = await self.store.content_count()
        timeline = await self.experiments.groups("day", "0000-00-00", "9999-99-99", name)
        covered = await self.experiments.arm_items(name)
        interleaved_users = await self.experiments.users(name) if experiment.interleaving else 0
        for arm, c, entry in zip(experiment.arms, counts, arms, strict=True):
            entry["weight"] = arm.weight
            entry["config"] = arm.config.as_dict()
            entry["users"] = interleaved_users if experiment.interleaving else c.users
            if not experiment.interleaving:
                totals = _sum_days([g for g in timeline if g.key[1] == arm.name])
                metrics = online_metrics(totals, catalogue)
                metrics.pop("impressions")
                metrics.pop("users")
                metrics["items_covered"] = covered.get(arm.name, 0)
                metrics["coverage"] = (
                    round(min(1.0, metrics["items_covered"] / catalogue), 6) if catalogue else 0.0
                )
                entry["metrics"] = metrics
        return {
            **_summary(experiment, datetime.now(UTC)),
            "arms": arms,
            "winner": winner,
            "verdict": verdict,
            "winner_now": winner_now,
            "verdict_now": verdict_now,
            "srm_p_value": None if srm_p_value is None else round(srm_p_value, 6),
            "min_impressions": (
                self.thresholds.min_interleaved
                if experiment.interleaving
                else self.thresholds.min_impressions
            ),
            "alpha": self.thresholds.alpha,
            "timeline": [
                {"day": g.key[0], "arm": g.key[1], **online_metrics(g, catalogue)} for g in timeline
            ],
        }

    async def _final(
        self, experiment: Experiment, winner: str | None, verdict: str
    ) -> tuple[str | None, str]:
        """The verdict it ended with, or the current one while it runs.

        Stopping keeps the verdict it was stopped on; one that ended by its `ends_at` keeps
        the verdict of the first report after that (before it, no verdict was final). Late
        clicks, parked reports and re-reads change only `verdict_now`.
        """
        if experiment.verdict is not None:
            return experiment.winner, experiment.verdict
        if experiment.status(datetime.now(UTC)) != "finished":
            return winner, verdict
        return await self.experiments.freeze(experiment.name, winner, verdict)

    async def stop(self, name: str, promote: bool) -> dict[str, Any] | None:
        """End it now; with `promote`, the winner's config becomes the default for everyone."""
        report = await self.report(name)
        if report is None:
            return None
        experiment = await self.experiments.get(name)
        assert experiment is not None
        winner = report["winner"]
        promoted = None
        if promote and experiment.stopped_at is not None:
            raise NoWinner(f"experiment {name!r} was stopped already; nothing is promoted now")
        if promote:
            arm = experiment.arm(winner) if winner else None
            if arm is None:
                raise NoWinner(f"experiment {name!r} has no winner to promote: {report['verdict']}")
            # What the arm served: its settings over the defaults it ran under.
            before = ArmConfig.from_dict(await self.experiments.promoted())
            config = arm.config.over(before).as_dict()
            version = config.pop("model_version", None)
            family = arm.config.model_family
            if family is not None:
                # The family stays in the config: the worker trains and promotes it from now.
                version = await asyncio.to_thread(self.models.registry.family_version, family)
            if version is not None:
                try:  # first, as `models promote`: nothing is stopped or switched otherwise
                    await asyncio.to_thread(self.models.registry.load, version)
                except Exception as exc:  # whatever its damaged files raise
                    raise Unpromotable(
                        f"experiment {name!r}: the winner's model version {version!r} cannot"
                        f" be loaded, so nothing is promoted: {exc}"
                    ) from exc
                # The registry's active version is what every replica serves (and what
                # retraining later competes with); the rest becomes the default config.
                await asyncio.to_thread(self.models.registry.promote, version)
                await self.models.refresh()
            promoted = config
        if experiment.stopped_at is None:
            await self.experiments.stop(
                name, datetime.now(UTC), winner, report["verdict"], promoted
            )
        await self.runtime.refresh()
        return await self.report(name)

    async def online(self, by: GroupBy, since: date | None, until: date | None) -> dict[str, Any]:
        until = until or datetime.now(UTC).date()
        if since is None:
            since = until - timedelta(days=29) if until.toordinal() > 29 else date.min
        groups = await self.experiments.groups(by, _day(since), _day(until))
        catalogue = await self.store.content_count()
        return {
            "by": by,
            "since": _day(since),
            "until": _day(until),
            "catalogue_size": catalogue,
            "groups": [
                {"key": dict(zip(_KEYS[by], g.key, strict=True)), **online_metrics(g, catalogue)}
                for g in groups
            ],
        }


_KEYS: dict[str, tuple[str, ...]] = {
    "model_version": ("model_version",),
    "arm": ("experiment", "arm"),
    "day": ("day",),
}


def _sum_days(groups: list[GroupCounts]) -> GroupCounts:
    counts = {c: sum(g.counts[c] for g in groups) for c in COUNTS}
    return GroupCounts(
        key=(),
        counts=counts,
        reciprocal_ranks=sum(g.reciprocal_ranks for g in groups),
        users=0,
        items=0,
    )


def _summary(e: Experiment, now: datetime) -> dict[str, Any]:
    return {
        "name": e.name,
        "status": e.status(now),
        "interleaving": e.interleaving,
        "control": e.arms[0].name,
        "starts_at": e.starts_at,
        "ends_at": e.ends_at,
        "stopped_at": e.stopped_at,
        "promoted": e.promoted,
    }
