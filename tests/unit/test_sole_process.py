"""`serve` and `worker` with their own in-process caches on one SQLite file: the second refused."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cli import app
from contextiq.cli.sole_process import lock_path, sole_process
from contextiq.config import get_settings

HOLD = """
import sys, time
from contextiq.cli.sole_process import sole_process
with sole_process(sys.argv[2], sys.argv[1], "memory://"):
    print("held", flush=True)
    time.sleep(60)
"""
LOCK = "contextiq-sole-process.lock"


@pytest.mark.parametrize(
    ("database_url", "cache_url", "locked"),
    [
        ("sqlite+aiosqlite:///data/ciq.db", "memory://", f"data/ciq.db.{LOCK}"),
        ("sqlite:////srv/ciq.db", "Memory://", f"/srv/ciq.db.{LOCK}"),
        ("sqlite+aiosqlite:///data/ciq.db", "disk:///data/cache.db", None),
        ("sqlite+aiosqlite:///data/ciq.db", "redis://cache:6379/0", None),
        ("sqlite+aiosqlite:///:memory:", "memory://", None),
        ("postgresql://ciq@db/ciq", "memory://", None),
    ],
)
def test_only_a_per_process_cache_on_a_database_file_is_locked(
    database_url: str, cache_url: str, locked: str | None
) -> None:
    path = lock_path(database_url, cache_url)
    assert (None if path is None else str(path)) == locked


def _command(name: str) -> list[str]:
    """`serve` on a port nothing listens on."""
    if name != "serve":
        return [name]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return [name, "--port", str(s.getsockname()[1])]


async def _return_at_once(*_: object, **__: object) -> None:
    """Stands in for the worker's loop: a command that failed to take the lock ends, not hangs."""


@pytest.mark.parametrize(
    ("first", "second"), [("serve", "serve"), ("serve", "worker"), ("worker", "serve")]
)
def test_the_second_process_on_the_file_is_refused_until_the_first_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str, second: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ciq.db'}"
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", url)
    monkeypatch.setenv("CONTEXTIQ_CACHE_URL", "memory://")
    monkeypatch.setattr("contextiq.cli._serve", lambda *_: 0)
    monkeypatch.setattr("contextiq.worker.runner.run_worker", _return_at_once)
    get_settings.cache_clear()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, first], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        refused = CliRunner().invoke(app, _command(second))
        assert refused.exit_code == 2, refused.output
        [line] = refused.stderr.splitlines()
        assert line.startswith(
            f"error: cannot start `contextiq {second}`: a `contextiq serve` or `contextiq worker`"
            f" already runs on {tmp_path}"
        )
        assert "CONTEXTIQ_CACHE_URL=disk://" in line and "redis://" in line
    finally:
        holder.kill()
        holder.wait()
    # The kernel let go of the dead holder's lock: the same command now starts (and ends).
    assert CliRunner().invoke(app, _command(second)).exit_code == 0
    assert (tmp_path / f"ciq.db.{LOCK}").stat().st_mode & 0o777 == 0o600  # as the database
    get_settings.cache_clear()


def test_a_worker_on_postgresql_with_its_own_cache_says_its_lists_may_be_stale(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sole_process("worker", "postgresql://ciq@db/ciq", "memory://"):
        pass
    assert capsys.readouterr().err.startswith("warning: `contextiq worker` with the in-process")
    with sole_process("worker", "postgresql://ciq@db/ciq", "redis://cache:6379/0"):
        pass
    with sole_process("serve", "postgresql://ciq@db/ciq", "memory://"):
        pass
    assert capsys.readouterr().err == ""
