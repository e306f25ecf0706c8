"""What the product writes about people is readable by its own user only, whatever the umask."""

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cache.disk import DiskCache
from contextiq.cli import app
from contextiq.cli.ml import offline_app
from contextiq.config import get_settings
from contextiq.domain import Content
from contextiq.private_files import open_private, private_dir
from contextiq.store.store import Store
from tests.ml.test_cli import write_inputs

runner = CliRunner()


@pytest.fixture(autouse=True)
def world_readable_umask() -> Iterator[None]:
    """The usual umask, under which a plain `open()` or `mkdir()` is readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Every file and folder under `root` with its permission bits."""
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in [root, *root.rglob("*")]
        if p != root
    }


def owner_only(found: dict[str, int], root: Path) -> list[str]:
    """The entries that are not 0700 folders or 0600 files."""
    return [
        f"{name} {oct(mode)}"
        for name, mode in found.items()
        if mode != (0o700 if (root / name).is_dir() else 0o600)
    ]


async def write_while_open(url: str, state: Path) -> None:
    """The database's -wal and -shm exist while a connection is open (the last one removes
    them): their modes are checked then."""
    store = Store(url)
    try:
        await store.upsert_content([Content(content_id="c", title="t", category="news")])
        assert owner_only(modes(state / "db"), state / "db") == []
        assert {"ciq.db-wal", "ciq.db-shm"} <= set(modes(state / "db"))
    finally:
        await store.close()


def test_database_models_and_rejected_rows_are_created_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", f"sqlite+aiosqlite:///{state / 'db' / 'ciq.db'}")
    monkeypatch.setenv("CONTEXTIQ_MODEL_DIR", str(state / "models"))
    monkeypatch.setenv("CONTEXTIQ_LLM_URL", "none://")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        (tmp_path / "events.csv").write_text(
            "user_id,content_id,interaction_type\nu1,nothing-like-it,view\n"
        )
        for args in (
            ["seed", "--demo", "--items", "40", "--users", "8"],
            ["import", "files", "--interactions", "events.csv", "--rejects", "state/bad.txt"],
            ["train"],
        ):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
        asyncio.run(write_while_open(get_settings().database_url, state))
    finally:
        get_settings.cache_clear()
    found = modes(state)
    assert {"db/ciq.db", "models/ACTIVE", "bad.txt"} <= set(found)
    assert any(name.endswith("meta.json") for name in found)
    assert owner_only(found, state) == []


def test_disk_cache_file_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache" / "nested" / "cache.db")
    asyncio.run(cache.set("k", b"v", 60))
    found = modes(tmp_path)
    assert {"cache/nested/cache.db", "cache/nested/cache.db-wal"} <= set(found)
    assert owner_only(found, tmp_path) == []


def test_offline_lists_are_written_owner_only(tmp_path: Path) -> None:
    interactions, items, users = write_inputs(tmp_path)
    output = tmp_path / "recs.csv"
    args = ["fit-predict", "--interactions", str(interactions), "--users", str(users)]
    args += ["--output", str(output), "--items", str(items)]
    result = CliRunner().invoke(offline_app, args)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_existing_files_and_folders_keep_their_modes(tmp_path: Path) -> None:
    """An operator's (or an older version's) choice is theirs to change: docs/security.md."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    (shared / "old.csv").write_text("x")
    (shared / "old.csv").chmod(0o640)
    private_dir(shared / "new")
    with open_private(shared / "old.csv") as f:
        f.write("y")
    assert modes(tmp_path) == {"shared": 0o750, "shared/new": 0o700, "shared/old.csv": 0o640}
