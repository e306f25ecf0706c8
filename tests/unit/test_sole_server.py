"""Two `serve` processes with their own in-process caches on one SQLite file: refused."""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cli import app
from contextiq.cli.sole_server import lock_path, sole_server
from contextiq.config import get_settings

HOLD = """
import sys, time
from contextiq.cli.sole_server import sole_server
with sole_server(sys.argv[1], "memory://"):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize(
    ("database_url", "cache_url", "locked"),
    [
        ("sqlite+aiosqlite:///data/ciq.db", "memory://", "data/ciq.db.serve.lock"),
        ("sqlite:////srv/ciq.db", "Memory://", "/srv/ciq.db.serve.lock"),
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


def test_a_second_server_on_the_file_is_refused_until_the_first_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ciq.db'}"
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", url)
    monkeypatch.setenv("CONTEXTIQ_CACHE_URL", "memory://")
    get_settings.cache_clear()
    first = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline() == "held\n"
        second = CliRunner().invoke(app, ["serve", "--port", "0"])
        assert second.exit_code == 2, second.output
        [line] = second.stderr.splitlines()
        assert line.startswith(f"error: another `contextiq serve` already serves {tmp_path}")
        assert "CONTEXTIQ_CACHE_URL=disk://" in line and "redis://" in line
    finally:
        first.kill()
        first.wait()
    with sole_server(url, "memory://"):  # the kernel let go of the dead server's lock
        pass
    assert (tmp_path / "ciq.db.serve.lock").stat().st_mode & 0o777 == 0o600  # as the database
    get_settings.cache_clear()
