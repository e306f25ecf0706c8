"""An ended experiment keeps the verdict it ended with; late events move only `verdict_now`."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events.types import ImpressionRecorded, InteractionRecorded
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.experiments.service import ExperimentService
from contextiq.services import build_services
from contextiq.store.engine import create_engine
from contextiq.store.migrate import alembic_config, upgrade_async
from contextiq.store.store import Store
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_pg_database

USERS = 50


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def experiments(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ExperimentService]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
            await upgrade_async(url)
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        settings = embedded_settings(
            tmp_path, database_url=url, experiment_min_impressions=USERS // 2
        )
        services = build_services(settings)
        await services.store.upsert_content([Content(c, c.upper(), "cat") for c in "abc"])
        yield services.experiments
        await services.stop()


def experiment(name: str, starts_at: datetime, ends_at: datetime | None = None) -> Experiment:
    arms = (Arm("control", 1.0, ArmConfig()), Arm("treatment", 1.0, ArmConfig()))
    return Experiment(name, arms, False, starts_at, ends_at, starts_at)


async def shown(store: Store, name: str, at: datetime) -> None:
    """Each arm shows one list to each of `USERS` users."""
    await store.apply_events(
        [
            ImpressionRecorded(f"{arm}-{n}", f"{arm}-u{n}", (("a", 1.0),), at, "v1", name, arm)
            for arm in ("control", "treatment")
            for n in range(USERS)
        ]
    )


async def clicks(store: Store, arm: str, users: range, at: datetime) -> None:
    """Those users click the list their arm showed them."""
    interactions = [
        Interaction(
            f"{arm}-click-{n}",
            f"{arm}-u{n}",
            "a",
            InteractionType.VIEW,
            1.0,
            at,
            recommendation_id=f"{arm}-{n}",
        )
        for n in users
    ]
    await store.record_interactions(interactions)
    await store.apply_events([InteractionRecorded(i) for i in interactions])


async def test_a_stopped_experiment_keeps_the_verdict_it_was_stopped_on(
    experiments: ExperimentService,
) -> None:
    store, now = experiments.store, datetime.now(UTC)
    await experiments.create(experiment("exp", now - timedelta(hours=1)))
    await shown(store, "exp", now)
    await clicks(store, "control", range(5), now)
    await clicks(store, "treatment", range(40), now)
    running = await experiments.report("exp")
    assert running is not None and running["winner"] == running["winner_now"] == "treatment"
    assert running["verdict"] == running["verdict_now"]

    stopped = await experiments.stop("exp", promote=False)
    assert stopped is not None and stopped["status"] == "finished"
    assert (stopped["winner"], stopped["verdict"]) == ("treatment", running["verdict"])
    # Late clicks (parked ones among them) turn the data the other way.
    await clicks(store, "control", range(5, USERS), now + timedelta(minutes=1))
    report = await experiments.report("exp")
    assert report is not None
    assert (report["winner"], report["verdict"]) == ("treatment", running["verdict"])
    assert report["winner_now"] == "control"
    assert report["verdict_now"] != report["verdict"]


async def test_an_experiment_past_its_end_keeps_the_verdict_first_reported_after_it(
    experiments: ExperimentService,
) -> None:
    store, now = experiments.store, datetime.now(UTC)
    # As an experiment that ran and then passed its end is stored (no report read since).
    ended = experiment("ended", now - timedelta(hours=2), now - timedelta(hours=1))
    await experiments.experiments.create(ended)
    await shown(store, "ended", now - timedelta(hours=1, minutes=30))
    await clicks(store, "control", range(5), now - timedelta(hours=1, minutes=20))
    await clicks(store, "treatment", range(40), now - timedelta(hours=1, minutes=20))
    first = await experiments.report("ended")
    assert first is not None and first["status"] == "finished"
    assert first["winner"] == first["winner_now"] == "treatment"
    await clicks(store, "control", range(USERS), now)
    later = await experiments.report("ended")
    assert later is not None
    assert (later["winner"], later["verdict"]) == ("treatment", first["verdict"])
    assert later["winner_now"] != "treatment"
    # Stopping it now promotes what it ended with, not what late events say.
    stopped = await experiments.stop("ended", promote=False)
    assert stopped is not None and stopped["winner"] == "treatment"


async def test_experiments_stopped_before_verdicts_were_kept_keep_their_winner(
    tmp_path: Path,
) -> None:
    """0010: a stopped experiment kept its winner only; its verdict says so. One not ended
    has none yet (frozen when it ends)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await upgrade_async(url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0009_parked_reports")
    old = sa.table(
        "experiments",
        *(sa.column(c, sa.String) for c in ("name", "winner")),
        sa.column("arms", sa.JSON),
        sa.column("interleaving", sa.Boolean),
        *(sa.column(c, sa.DateTime(timezone=True)) for c in ("starts_at", "created_at")),
        sa.column("stopped_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(old),
            [
                {
                    "name": name,
                    "winner": winner,
                    "arms": [],
                    "interleaving": False,
                    "starts_at": now,
                    "created_at": now,
                    "stopped_at": stopped,
                }
                for name, winner, stopped in (
                    ("won", "treatment", now),
                    ("tied", None, now),
                    ("running", None, None),
                )
            ],
        )
    await upgrade_async(url)
    async with engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT name, verdict FROM experiments"))
        rows = {name: verdict for name, verdict in result}
    await engine.dispose()
    assert rows["won"] is not None and rows["won"].startswith("treatment won when it was stopped")
    assert rows["tied"] is not None and rows["tied"].startswith("Stopped with no winner")
    assert rows["running"] is None
