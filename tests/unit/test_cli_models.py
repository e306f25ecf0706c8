"""Model rollback from the command line: list versions, promote an older one."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cli import app
from contextiq.config import get_settings
from contextiq.ml.registry import ModelRegistry

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CONTEXTIQ_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_an_older_version_can_be_served_again(isolated: Path) -> None:
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    _ok("train")
    _ok("train")
    registry = ModelRegistry(isolated / "models")
    versions = [v.version for v in registry.versions()]
    assert len(versions) == 2
    listed = _ok("models", "list")
    active = registry.active_version()
    assert f"* {active}" in listed
    other = next(v for v in versions if v != active)
    assert f"  {other}" in listed

    assert f"{other} is now the active model" in _ok("models", "promote", other)
    assert registry.active_version() == other


def test_an_unknown_version_is_refused_with_a_hint(isolated: Path) -> None:
    result = runner.invoke(app, ["models", "promote", "nope"])
    assert result.exit_code != 0
    assert "models list" in result.output
