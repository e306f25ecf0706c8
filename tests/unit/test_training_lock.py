"""One training at a time across processes, on SQLite and PostgreSQL: the lock
(`exclusively`), the worker's rounds and `contextiq train [--wait]`."""

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from contextiq.cli import TRAINING_BUSY
from contextiq.store import exclusive
from contextiq.store.exclusive import exclusively
from contextiq.store.store import Store
from contextiq.worker.processor import Retrainer
from contextiq.worker.training import training_turn
from tests.conftest import stored_events
from tests.integration.conftest import CONTEXTIQ, contextiq_env, fresh_pg_database


@pytest.fixture
async def two(migrated_url: str) -> AsyncIterator[tuple[Store, Store]]:
    a, b = Store(migrated_url), Store(migrated_url)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_one_holder_at_a_time_released_with_the_block(two: tuple[Store, Store]) -> None:
    a, b = two
    async with exclusively(a.engine, "training") as first:
        assert first
        async with exclusively(b.engine, "training") as second:
            assert not second
        async with exclusively(b.engine, "another name") as other:
            assert other
    async with exclusively(b.engine, "training") as after:
        assert after


async def test_a_waiting_holder_gets_it_once_released(
    two: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exclusive, "POLL_SECONDS", 0.05)
    a, b = two
    said: list[str] = []
    waits, released = asyncio.Event(), asyncio.Event()

    def waiting() -> None:
        said.append("waiting")
        waits.set()

    async def second() -> bool:
        async with exclusively(b.engine, "training", 60, waiting) as held:
            assert released.is_set()  # not before the first let go
            return held

    async with exclusively(a.engine, "training"):
        waiter = asyncio.create_task(second())
        await waits.wait()
        released.set()
    assert await waiter
    assert said == ["waiting"]  # said once, however many tries


async def test_a_wait_that_runs_out_leaves_it_unheld(
    two: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exclusive, "POLL_SECONDS", 0.01)
    a, b = two
    async with (
        exclusively(a.engine, "training"),
        exclusively(b.engine, "training", 0.05) as held,
    ):
        assert not held


async def test_sqlite_locks_a_file_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    try:
        async with exclusively(store.engine, "contextiq-training") as held:
            assert held
            assert (tmp_path / "store.db.contextiq-training.lock").exists()
    finally:
        await store.close()


@pytest.mark.integration
async def test_postgresql_holds_it_on_an_idle_session() -> None:
    async with fresh_pg_database() as url:
        a = Store(url)
        try:
            async with exclusively(a.engine, "training") as held:
                assert held
                # Held across a long training: not "idle in transaction", which the
                # server ends after idle_in_transaction_session_timeout.
                async with a.engine.connect() as conn:
                    states = await conn.execute(
                        text(
                            "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a"
                            " USING (pid) WHERE l.locktype = 'advisory'"
                            " AND a.datname = current_database()"
                        )
                    )
                    assert [s for (s,) in states] == ["idle"]
        finally:
            await a.close()


async def test_a_workers_round_is_skipped_while_another_process_trains(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    rounds: list[str] = []

    async def train() -> None:
        rounds.append("trained")

    retrainer = Retrainer(train, b, 0, 0, lambda: training_turn(b))
    await b.apply_events(await stored_events(b, 4))
    async with training_turn(a):
        assert retrainer.request()
        await retrainer._task  # type: ignore[misc]
    assert rounds == []
    # A worker's round takes off the count it started with: the skipped one leaves it.
    assert (await b.training_count()).events == 4
    assert retrainer.request()
    await retrainer._task  # type: ignore[misc]
    assert rounds == ["trained"]
    assert (await b.training_count()).events == 0


async def test_train_exits_3_while_another_process_trains_or_waits_for_it(
    migrated_url: str, tmp_path: Path
) -> None:
    env = contextiq_env(tmp_path, database_url=migrated_url)
    other = Store(migrated_url)  # this test's process, training as far as `contextiq train` sees
    try:
        async with training_turn(other):
            done = await asyncio.to_thread(
                subprocess.run,
                [str(CONTEXTIQ), "train"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == TRAINING_BUSY == 3, done.stdout + done.stderr
            assert done.stdout.splitlines()[-1] == "another process is training: not training now"

            waiting = await asyncio.create_subprocess_exec(
                str(CONTEXTIQ),
                *("train", "--wait", "300"),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert waiting.stdout is not None
            said = []
            while not said or b"waiting up to" not in said[-1]:
                line = await asyncio.wait_for(waiting.stdout.readline(), 120)
                assert line, b"".join(said)
                said.append(line)
            assert said[-1] == b"another process is training: waiting up to 300s for it to finish\n"
        # Released: it trains (on nothing here, which it says).
        rest = (await asyncio.wait_for(waiting.communicate(), 120))[0].decode()
        assert waiting.returncode == 1, rest
        assert rest.splitlines()[-1] == "no interactions to train on"
    finally:
        await other.close()


@pytest.fixture
def held_lock_file(tmp_path: Path) -> Iterator[Path]:
    """The database whose "training" lock file another process holds until the test ends."""
    database = tmp_path / "held.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire();"
            " print('held', flush=True); sys.stdin.read()",
            str(exclusive.lock_file(database, "training")),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield database
    finally:
        holder.communicate("")


async def test_a_lock_file_held_by_another_process_is_seen_without_taking_it(
    held_lock_file: Path,
) -> None:
    """Old code answered None for every lock file (`training` then showed only a request
    process's own rounds); Linux lists each `flock` in /proc/locks, with the file it is on."""
    if not exclusive.PROC_LOCKS.exists():
        pytest.skip("no /proc/locks on this host: a lock file is not seen from outside")
    store = Store(f"sqlite+aiosqlite:///{held_lock_file}")
    try:
        assert await exclusive.is_held(store.engine, "training") is True
        assert await exclusive.is_held(store.engine, "never taken") is False
        async with exclusively(store.engine, "training") as mine:
            assert not mine  # seeing it did not take it from the holder
    finally:
        await store.close()


async def test_without_a_lock_table_a_lock_file_cannot_be_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exclusive, "PROC_LOCKS", tmp_path / "no-such-table")
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert await exclusive.is_held(store.engine, "training") is None
    finally:
        await store.close()
