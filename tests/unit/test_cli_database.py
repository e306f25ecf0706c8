"""A database URL that cannot be opened ends every command that opens the store with one line."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cli import app
from contextiq.config import get_settings
from tests.services import POSTGRES_HOST, POSTGRES_PORT, require

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CONTEXTIQ_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CONTEXTIQ_LLM_URL", "none://")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _refused(monkeypatch: pytest.MonkeyPatch, url: str, *command: str) -> str:
    """The one line `command` ends with on `url`, checked to be that and exit code 2."""
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(app, list(command))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot open the database ")
    assert "Check CONTEXTIQ_DATABASE_URL: " in line
    return line


@pytest.mark.parametrize(
    ("url", "shown", "why"),
    [
        (
            "postgresql://ciq:s3cret-pass@no-such-host.invalid/ciq",
            "postgresql://ciq:***@no-such-host.invalid/ciq",
            "the server runs and is reachable",
        ),
        (
            f"postgresql://postgres@{POSTGRES_HOST}:1/test",
            f"postgresql://postgres@{POSTGRES_HOST}:1/test",
            "the server runs and is reachable",
        ),
        ("postgresql://ciq:s3cret-pass@db:port/ciq", "postgresql://ciq:***@db:port/ciq", "form"),
        # A parameter asyncpg does not take (`sslmode` misspelt): its connect() refuses it.
        (
            "postgresql://ciq:s3cret-pass@db/ciq?sslmod=require",
            "postgresql://ciq:***@db/ciq?sslmod=require",
            "unexpected keyword argument 'sslmod'",
        ),
    ],
)
def test_an_unreachable_or_malformed_url_is_one_line_naming_it_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str, shown: str, why: str
) -> None:
    line = _refused(monkeypatch, url, "migrate")
    assert f"cannot open the database {shown}: " in line
    assert why in line
    assert "s3cret" not in line


def test_a_database_not_created_yet_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    require(POSTGRES_HOST, POSTGRES_PORT, "PostgreSQL")
    url = f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/no_such_ciq_database"
    line = _refused(monkeypatch, url, "migrate")
    assert 'database "no_such_ciq_database" does not exist' in line
    assert "createdb" in line


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["serve"],
        ["serve", "--bootstrap"],
        ["worker"],
        ["seed", "--demo"],
        ["vectors"],
        ["train"],
        ["keys", "list"],
    ],
)
def test_every_command_that_opens_the_store_says_so_for_a_file_that_cannot_be_made(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    (isolated / "taken").write_text("a file where the database's folder would be")
    line = _refused(monkeypatch, f"sqlite:///{isolated / 'taken' / 'ciq.db'}", *command)
    assert "the file's folder exists (or can be created) and is writable" in line
