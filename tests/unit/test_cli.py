"""The command line, run in-process against a temporary SQLite database."""

import json
import sqlite3
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


def test_seed_import_and_train(isolated: Path) -> None:
    assert "40 items" in _ok("seed", "--demo", "--items", "40", "--users", "8")
    assert "0 new interactions" in _ok("seed", "--demo", "--items", "40", "--users", "8")
    (isolated / "content.csv").write_text("content_id,title,category\nextra,Extra item,news\n")
    (isolated / "events.csv").write_text(
        "user_id,content_id,interaction_type,event_id\nuser_001,extra,like,e-1\n"
    )
    out = _ok("import", "files", "--content", "content.csv", "--interactions", "events.csv")
    assert "1 items, 1 new interactions" in out
    trained = json.loads(_ok("train"))
    assert trained["status"] == "active"
    assert trained["metrics"]["auc"] > 0.5


def test_train_without_interactions_fails_clearly() -> None:
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 1
    assert "no interactions" in result.output


def test_seed_needs_demo_and_import_needs_a_source() -> None:
    assert runner.invoke(app, ["seed"]).exit_code != 0
    assert runner.invoke(app, ["import", "files"]).exit_code != 0
    assert runner.invoke(app, ["import", "movielens-100k", "/nonexistent"]).exit_code != 0


def test_migrate_and_openapi() -> None:
    assert "up to date" in _ok("migrate")
    schema = json.loads(_ok("openapi"))
    assert "/api/v1/recommendations" in schema["paths"]


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
    with sqlite3.connect(isolated / "cli.db") as db:
        audited = db.execute("SELECT actor, action, target FROM audit_log").fetchall()
    assert [(a, t) for _, a, t in audited] == [("models promote", f"model:{other}")]
    assert audited[0][0].startswith("cli")


def test_an_unknown_version_is_refused_with_a_hint(isolated: Path) -> None:
    result = runner.invoke(app, ["models", "promote", "nope"])
    assert result.exit_code != 0
    assert "models list" in result.output
