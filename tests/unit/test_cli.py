"""The command line, run in-process against a temporary SQLite database."""

import asyncio
import errno
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from filelock import FileLock
from rich.filesize import decimal
from typer.testing import CliRunner

import contextiq
from contextiq.cli import app, unshared_state
from contextiq.cli.database import on_store
from contextiq.cli.listen import listening_socket
from contextiq.cli.processes import BALANCED
from contextiq.config import Settings, get_settings
from contextiq.experiments.definitions import Arm, ArmConfig, Experiment
from contextiq.ml.registry import ModelRegistry
from contextiq.observability.logs import _OurHandler
from contextiq.recommend.response_cache import user_key
from contextiq.store.exclusive import lock_file
from contextiq.store.experiments import ExperimentStore
from contextiq.worker.training import TRAINING_LOCK

runner = CliRunner()
SRC = str(Path(contextiq.__file__).parents[1])


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CONTEXTIQ_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CONTEXTIQ_LLM_URL", "none://")  # item vectors: tests/llm
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
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)  # progress lines go to stderr
    assert trained["status"] == "active"
    assert trained["metrics"]["auc"] > 0.5


def test_train_compares_with_the_serving_model_on_events_it_has_not_seen(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    first = json.loads(runner.invoke(app, ["train"]).stdout)
    # Nothing newer than the serving model: it saw every held-out event, so no comparison.
    again = json.loads(runner.invoke(app, ["train"]).stdout)
    registry = ModelRegistry(isolated / "models")
    assert again["status"] == "active" and registry.info(again["version"]).current_metrics is None
    # New events (the time of the import, after the demo's): judged on those, against the rule.
    rows = [
        f"user_00{u},content_00{10 + u + j},like,new-{u}-{j}" for u in range(1, 9) for j in (0, 9)
    ]
    (isolated / "new.csv").write_text(
        "user_id,content_id,interaction_type,event_id\n" + "\n".join(rows)
    )
    _ok("import", "files", "--interactions", "new.csv")
    monkeypatch.setattr("contextiq.ml.train.MIN_COMPARED_USERS", 1)
    monkeypatch.setattr("contextiq.ml.train.PROMOTION_TOLERANCE", -1.0)  # twice as good, or out
    monkeypatch.setattr("contextiq.ml.train.trails_beyond_noise", lambda *_: True)  # 8 users
    rejected = json.loads(runner.invoke(app, ["train"]).stdout)
    assert rejected["status"] == "rejected"
    assert registry.active_version() == again["version"] != first["version"]
    info = registry.info(rejected["version"])
    assert info.current_metrics is not None and info.compared_metrics is not None
    assert info.trained_until is not None
    assert info.trained_until > (registry.info(again["version"]).trained_until or 0)


def test_train_of_another_family_is_accepted_for_experiments_without_serving(
    isolated: Path,
) -> None:
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    serving = json.loads(runner.invoke(app, ["train"]).stdout)
    other = json.loads(runner.invoke(app, ["train", "--family", "ease"]).stdout)
    assert other["status"] == "candidate"
    registry = ModelRegistry(isolated / "models")
    assert registry.active_version() == serving["version"]
    assert registry.family_version("ease") == other["version"]
    assert registry.family_version("blend") == serving["version"]
    result = runner.invoke(app, ["train", "--family", "mystery"])
    assert result.exit_code == 2 and "unknown model family 'mystery'" in result.output


def test_train_without_interactions_fails_clearly() -> None:
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 1
    assert "no interactions" in result.output


def test_train_too_large_or_of_an_unknown_family_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    monkeypatch.setenv("CONTEXTIQ_TRAIN_MEMORY_LIMIT_MB", "1")
    get_settings.cache_clear()
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    # The last line: log lines of the commands run before it may come first on stderr.
    assert result.output.splitlines()[-1].startswith("error: training needs 40 items, 8 users")
    monkeypatch.setenv("CONTEXTIQ_TRAIN_MEMORY_LIMIT_MB", "0")
    monkeypatch.setenv("CONTEXTIQ_MODEL", "mystery")
    get_settings.cache_clear()
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    assert (
        "unknown model family 'mystery'; known: blend, blend-sequence, blend-next, ease,"
        " embedding, sequence" in result.output
    )


def test_seed_needs_demo_and_import_needs_a_source() -> None:
    assert runner.invoke(app, ["seed"]).exit_code != 0
    assert runner.invoke(app, ["import", "files"]).exit_code != 0
    assert runner.invoke(app, ["import", "movielens-100k", "/nonexistent"]).exit_code != 0


def test_migrate_and_openapi() -> None:
    assert "up to date" in _ok("migrate")
    schema = json.loads(_ok("openapi"))
    assert "/api/v1/recommendations" in schema["paths"]


def test_import_files_skips_bad_rows_with_their_line_and_reruns_add_nothing(
    isolated: Path,
) -> None:
    (isolated / "content.csv").write_text(
        "content_id,title,category,tags\na1,First,news,x|y\na2,Second,news,\n"
    )
    (isolated / "events.csv").write_text(
        "user_id,content_id,interaction_type,timestamp\n"
        "u1,a1,like,2026-01-01T00:00:00Z\n"
        "u1,a2,lik,2026-01-01T00:00:00Z\n"
        "u2,missing,view,\n"
        "u2,a2,view\n"
        "u2,a1,save,2026-01-02T00:00:00Z\n"
    )
    args = ["import", "files", "--content", "content.csv", "--interactions", "events.csv"]
    out = _ok(*args, "--rejects", "bad.txt")
    assert "2 items, 2 new interactions (0 already there), 3 bad rows skipped" in out
    assert "skipped events.csv:3: interaction_type: Input should be" in out
    assert "skipped events.csv:4: content 'missing' does not exist" in out
    assert "skipped events.csv:5: 3 fields, the header has 4" in out
    assert (isolated / "bad.txt").read_text().splitlines()[0].startswith("events.csv:3: ")
    # no terminal here: plain progress lines, the last with the totals
    size = decimal((isolated / "events.csv").stat().st_size)  # counted in bytes read
    assert f"interactions from events.csv: {size}/{size} (100%)" in out
    # then the last steps (about a minute at 5,000,000 events) have their own
    assert re.search(r"profiles, popularity and indexes: (\d+)/\1 steps \(100%\)", out)
    assert "0 new interactions (2 already there)" in _ok(*args)
    assert json.loads(_ok_json_profile("u2"))["counts"] == {"save": 1}


def _ok_json_profile(user: str) -> str:
    import asyncio

    from contextiq.store.store import Store

    async def read() -> str:
        store = Store(get_settings().database_url)
        try:
            profile = await store.user_profile(user)
        finally:
            await store.close()
        return json.dumps({"user_id": profile.user_id, "counts": profile.counts})

    return asyncio.run(read())


def test_import_files_of_the_same_name_from_two_folders_add_both(isolated: Path) -> None:
    (isolated / "content.csv").write_text("content_id,title,category\na1,First,news\n")
    _ok("import", "files", "--content", "content.csv")
    for month, users in (("jan", ("alice", "bob")), ("feb", ("carol", "dave"))):
        (isolated / month).mkdir()
        (isolated / month / "interactions.csv").write_text(
            "user_id,content_id,interaction_type\n" + "".join(f"{u},a1,like\n" for u in users)
        )
    args = ["import", "files", "--no-vectors", "--interactions"]
    assert "2 new interactions (0 already there)" in _ok(*args, "jan/interactions.csv")
    assert "2 new interactions (0 already there)" in _ok(*args, "feb/interactions.csv")
    assert "0 new interactions (2 already there)" in _ok(*args, "feb/interactions.csv")


def test_import_files_not_in_utf8_name_the_file_and_line_without_a_traceback(
    isolated: Path,
) -> None:
    (isolated / "content.csv").write_bytes(
        b"content_id,title,category\na1,One,news\na2,Caf\xe9,news\na3,Three,news\n"
    )
    args = ["import", "files", "--no-vectors", "--content", "content.csv"]
    out = _ok(*args)  # a bad row, skipped as other bad rows are
    assert "skipped content.csv:3: not UTF-8 (byte 0xe9): re-export the file as UTF-8" in out
    assert "2 items, 0 new interactions (0 already there), 1 bad rows skipped" in out
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1 and isinstance(strict.exception, SystemExit), strict.output
    assert "error: content.csv:3: not UTF-8 (byte 0xe9)" in strict.output
    (isolated / "events.csv").write_bytes(b"user_id,content_id,interaction_typ\xe9\nu1,a1,like\n")
    whole = runner.invoke(app, [*args, "--interactions", "events.csv"])
    assert whole.exit_code == 1 and isinstance(whole.exception, SystemExit), whole.output
    assert (
        "error: events.csv:1: the header is not UTF-8 (byte 0xe9): re-export the file as UTF-8"
        " (nothing in events.csv was imported)" in whole.output
    )
    assert "2 items, 0 new interactions" in whole.output  # what was imported before it


def test_an_import_moves_the_shared_generations_running_servers_watch(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items go through `CatalogService.upsert` (catalogue generation, when one changed) and
    new events invalidate their users, as the API's writes do, on the cache servers share."""
    import asyncio

    from contextiq.cache.disk import DiskCache

    monkeypatch.setenv("CONTEXTIQ_CACHE_URL", f"disk://{isolated / 'cache.db'}")
    get_settings.cache_clear()

    def generations(*users: str) -> list[int]:
        async def read() -> list[int]:
            cache = DiskCache(isolated / "cache.db")  # what a server on this host reads
            try:
                keys = ["gen:catalog", *(f"gen:user:{user_key(u)}" for u in users)]
                return [await cache.get_int(k) for k in keys]
            finally:
                await cache.close()

        return asyncio.run(read())

    (isolated / "content.csv").write_text(
        "content_id,title,category,hidden\na1,One,news,false\na2,Two,news,true\n"
    )
    (isolated / "events.csv").write_text("user_id,content_id,interaction_type\nu1,a1,like\n")
    args = ["import", "files", "--no-vectors", "--content", "content.csv"]
    _ok(*args, "--interactions", "events.csv")
    catalog, u1, u2 = generations("u1", "u2")
    assert (catalog, u1, u2) == (1, 1, 0)
    _ok(*args, "--interactions", "events.csv")  # the items again, unchanged; no new events
    assert generations("u1") == [1, 1]
    (isolated / "content.csv").write_text(
        "content_id,title,category,hidden\na1,One,news,false\na2,Two,news,false\n"
    )
    _ok(*args)  # a2 shown again: the lists may change
    assert generations("u1") == [2, 1]


def test_import_files_strict_stops_at_the_first_bad_row(isolated: Path) -> None:
    (isolated / "content.csv").write_text("content_id,title,category\na1,First,news\n")
    (isolated / "events.jsonl").write_text(
        '{"user_id": "u1", "content_id": "a1", "interaction_type": "like"}\n'
        '{"user_id": "u1", "content_id": "a1", "interaction_type": "nope"}\n'
        '{"user_id": "u2", "content_id": "a1", "interaction_type": "like"}\n'
    )
    args = ["import", "files", "--content", "content.csv", "--interactions", "events.jsonl"]
    result = runner.invoke(app, [*args, "--strict"])
    assert result.exit_code == 1
    assert "error: events.jsonl:2: interaction_type" in result.output
    assert "1 new interactions" in result.output  # the row before it was imported
    assert json.loads(_ok_json_profile("u1"))["counts"] == {"like": 1}


def test_import_files_refuses_a_rejects_file_that_is_one_of_its_inputs(isolated: Path) -> None:
    """The rejects file is opened for writing first: named as an input (a slip of tab
    completion), it emptied that file, and the import added nothing and exited 0."""
    rows = "content_id,title,category\na1,First,news\n"
    (isolated / "content.csv").write_text(rows)
    result = runner.invoke(
        app, ["import", "files", "--content", "content.csv", "--rejects", "./content.csv"]
    )
    assert result.exit_code == 2
    assert "--rejects" in result.output
    assert (isolated / "content.csv").read_text() == rows


def test_import_files_interrupted_says_what_it_kept_and_a_rerun_adds_the_rest(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C reaches the import as the cancellation `asyncio.run` makes of it."""
    from contextiq.cli import imports
    from contextiq.data.load import import_interactions_file as real

    (isolated / "content.csv").write_text("content_id,title,category\na1,First,news\n")
    (isolated / "events.csv").write_text("user_id,content_id,interaction_type\nu1,a1,like\n")
    _ok("import", "files", "--content", "content.csv")

    async def interrupted(*given: Any) -> None:
        await real(*given)
        raise asyncio.CancelledError

    said: list[str] = []
    with monkeypatch.context() as patch, pytest.raises(asyncio.CancelledError):
        patch.setattr(imports, "import_interactions_file", interrupted)
        asyncio.run(imports.import_files(get_settings(), said.append, None, Path("events.csv")))
    assert said[0] == (
        "interrupted: the rows written so far are kept; run the same command again to add the rest"
    )
    assert said[1].startswith("    0 items, 1 new interactions (0 already there), 0 bad rows")
    assert "0 new interactions (1 already there)" in _ok(
        "import", "files", "--interactions", "events.csv"
    )


def test_seed_writes_import_files_that_import_cleanly(isolated: Path) -> None:
    out = _ok(
        "seed",
        "--demo",
        "--items",
        "300",
        "--users",
        "10",
        "--interactions",
        "120",
        "--output-dir",
        "files",
    )
    assert "120 interactions" in out
    imported = _ok(
        "import",
        "files",
        "--content",
        "files/content.csv",
        "--interactions",
        "files/interactions.csv",
    )
    assert "300 items, 120 new interactions (0 already there), 0 bad rows skipped" in imported


def test_an_older_version_can_be_served_again(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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

    # The database the promotion is audited in cannot be opened: refused, nothing switched.
    (isolated / "taken").write_text("a file where the database's folder would be")
    with monkeypatch.context() as unreachable:
        unreachable.setenv("CONTEXTIQ_DATABASE_URL", f"sqlite:///{isolated / 'taken' / 'ciq.db'}")
        get_settings.cache_clear()
        refused = runner.invoke(app, ["models", "promote", other])
    get_settings.cache_clear()
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.startswith("error: cannot open the database")
    assert registry.active_version() == active

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


def test_train_on_a_model_directory_it_cannot_write_stops_with_one_line(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only or full volume: old code ended in a traceback."""
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    versions = isolated / "models" / "versions"

    def read_only(*_: object) -> str:
        raise OSError(errno.EROFS, "Read-only file system", str(versions))

    monkeypatch.setattr("contextiq.ml.registry.ModelRegistry.save", read_only)
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1] == (
        f"error: [Errno {errno.EROFS}] Read-only file system: '{versions}'"
    )
    assert ModelRegistry(isolated / "models").active_version() is None


def test_train_on_a_read_only_model_directory_stops_before_training(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code trained first (minutes at millions of events), then failed to save."""
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    versions = isolated / "models" / "versions"

    def read_only(**_: object) -> str:
        raise OSError(errno.EROFS, "Read-only file system", str(versions))

    def never(*_: object) -> None:
        raise AssertionError("trained on a model directory it cannot write")

    monkeypatch.setattr("contextiq.ml.registry.tempfile.mkdtemp", read_only)
    monkeypatch.setattr("contextiq.ml.train.train_candidate", never)
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1].startswith(f"error: [Errno {errno.EROFS}]")


def _trained(folder: Path) -> tuple[Path, ModelRegistry, str]:
    """A small demo trained once: the versions folder, the registry and the active version."""
    _ok("seed", "--demo", "--items", "40", "--users", "8")
    _ok("train")
    registry = ModelRegistry(folder / "models")
    active = registry.active_version()
    assert active is not None
    return folder / "models" / "versions", registry, active


def test_a_version_that_cannot_be_loaded_is_refused_and_nothing_switched(isolated: Path) -> None:
    """Old code pointed ACTIVE at it: serving processes kept their model, but each one
    started afterwards had none, and `models list` showed it as served."""
    versions, registry, active = _trained(isolated)
    truncated, garbled = f"{active[:-8]}truncate", f"{active[:-8]}garbled0"
    shutil.copytree(versions / active, versions / truncated)
    shutil.copytree(versions / active, versions / garbled)
    for array in (versions / truncated).rglob("*.npy"):
        array.write_bytes(array.read_bytes()[:10])
    (versions / garbled / "meta.json").write_text("{")
    for broken in (truncated, garbled):
        result = runner.invoke(app, ["models", "promote", broken])
        assert result.exit_code == 2, result.output
        assert f"model version {broken} cannot be loaded" in result.output
        assert registry.active_version() == active
    # Listed with the others (old code: a traceback instead of the whole list).
    listed = _ok("models", "list").splitlines()
    assert listed[0].startswith(f"* {active}  ")
    assert listed[1].startswith(f"  {garbled}  unreadable: ")
    assert listed[2].startswith(f"  {truncated}  ")


def test_models_prune_keeps_the_newest_and_every_version_still_needed(isolated: Path) -> None:
    """Every retraining adds a version: without pruning the model volume fills. Prune spares
    the newest KEEP, the active one, and one a live experiment's arm pins."""
    versions, registry, active = _trained(isolated)
    older = [f"2000010{n}T000000Z-0000000{n}" for n in range(1, 5)]
    newer = "20991231T000000Z-ffffffff"
    for version in [*older, newer]:
        shutil.copytree(versions / active, versions / version)
    pinned = older[1]
    experiment = Experiment(
        "pinned",
        (Arm("a", 1.0, ArmConfig()), Arm("b", 1.0, ArmConfig(model_version=pinned))),
        False,
        datetime.now(UTC),
        None,
        datetime.now(UTC),
    )
    on_store(get_settings().database_url, lambda store: ExperimentStore(store).create(experiment))
    printed = _ok("models", "prune", "--keep", "1")
    assert registry.names() == [pinned, active, newer]
    assert f"removed 3 versions: {older[0]}, {older[2]}, {older[3]}" in printed
    assert runner.invoke(app, ["models", "prune", "--keep", "0"]).exit_code == 2


def _killed_while_saving(versions: Path) -> str:
    """What a save leaves when its process is killed (SIGKILL, the OOM killer) before the
    rename: a staging folder with part of a model and no meta.json."""
    staging = versions / ".staging-k1ll3d00"
    (staging / "model").mkdir(parents=True)
    (staging / "model" / "vectors.npy").write_bytes(b"\x93NUMPY" + bytes(1000))
    return staging.name


def test_a_save_killed_part_way_is_removed_by_the_next_training_or_prune(isolated: Path) -> None:
    """Old code removed a staging folder only when the save raised: one left by a killed
    process stayed for good, a model's size each on the shared volume."""
    versions, registry, active = _trained(isolated)
    killed = _killed_while_saving(versions)
    _ok("train")
    assert not (versions / killed).exists()
    killed = _killed_while_saving(versions)
    printed = _ok("models", "prune")
    assert not (versions / killed).exists()
    assert f"removed 1 unfinished saves of a killed training: {killed}" in printed
    assert active in registry.names()


def test_a_volume_that_killed_saves_filled_is_freed_before_the_training_checks_it(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code checked that it could write first, and refused (exit 2, no space left) for
    want of the space the unfinished saves it would have removed next held."""
    versions, _, _ = _trained(isolated)
    killed = _killed_while_saving(versions)
    check = ModelRegistry.check_writable

    def full_while_unfinished(registry: ModelRegistry) -> None:
        if registry.unfinished():
            raise OSError(errno.ENOSPC, "No space left on device", str(versions))
        check(registry)

    monkeypatch.setattr(ModelRegistry, "check_writable", full_while_unfinished)
    _ok("train")
    assert not (versions / killed).exists()


def test_prune_leaves_the_staging_folder_of_a_training_running_now(isolated: Path) -> None:
    versions, _, _ = _trained(isolated)
    saving = _killed_while_saving(versions)  # as far as prune can tell: a save in progress
    database = Path(get_settings().database_url.split("///", 1)[1])
    with FileLock(lock_file(database, TRAINING_LOCK)):  # another process trains
        printed = _ok("models", "prune")
    assert (versions / saving).is_dir()
    assert "another process is training: unfinished saves are left to it" in printed


def test_serve_with_workers_on_a_port_in_use_stops_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTEXTIQ_CACHE_URL", "redis://127.0.0.1:6379/0")  # never reached
    get_settings.cache_clear()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = runner.invoke(app, ["serve", "--workers", "2", "--port", port])
    assert result.exit_code == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.output
    assert "request processes" not in result.output  # nothing was started


def test_serve_bootstrap_on_a_port_in_use_stops_before_any_work(isolated: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = runner.invoke(app, ["serve", "--bootstrap", "--port", port])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use.")
    assert "==>" not in result.output  # neither migrated, seeded nor trained
    assert not (isolated / "models").exists()


def test_serve_bootstrap_shows_the_first_trainings_progress(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code set logging up after bootstrapping: training a first model at 100,000 items
    said nothing for 13 minutes (its stages are log lines, as `contextiq train` shows them)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(handler)
    shown: list[bool] = []

    def first_run(settings: Settings, say: Any) -> None:
        shown.append(any(isinstance(h, _OurHandler) for h in root.handlers))

    monkeypatch.setattr("contextiq.cli.bootstrap", first_run)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    with socket.socket() as probe:  # a port free now
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    result = runner.invoke(app, ["serve", "--bootstrap", "--port", port])
    assert result.exit_code == 0, result.output
    assert shown == [True]


@pytest.mark.parametrize(
    ("cache_url", "rate_limit", "refused_for"),
    [
        ("memory://", None, "must share one cache"),
        ("Memory://", None, "must share one cache"),  # the scheme as the cache registry reads it
        ("disk:///var/cache/ciq", None, None),
        ("disk:///var/cache/ciq", "100/second", "N times the limit"),
        ("redis://127.0.0.1:6379/0", "100/second", None),
    ],
)
def test_request_processes_need_a_shared_cache_and_shared_rate_counts(
    cache_url: str, rate_limit: str | None, refused_for: str | None
) -> None:
    problem = unshared_state(Settings(cache_url=cache_url, rate_limit=rate_limit))
    assert problem is None if refused_for is None else refused_for in (problem or "")


def test_request_processes_each_accept_connections_on_the_one_port() -> None:
    """Each has a socket of its own on the port (SO_REUSEPORT): the kernel spreads
    connections over them, where one shared socket let the first to wake take them."""
    if not BALANCED:
        pytest.skip("no SO_REUSEPORT on this platform: the processes share one socket")
    with listening_socket("127.0.0.1", 0, reuse_port=True) as first:
        port = first.getsockname()[1]
        with listening_socket("127.0.0.1", port, reuse_port=True) as second:
            for sock in (first, second):
                sock.listen()
                sock.setblocking(False)
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
            try:
                accepted = [_drain(first), _drain(second)]
            finally:
                for client in clients:
                    client.close()
    assert sum(accepted) == 32
    assert min(accepted) > 0


def _drain(sock: socket.socket) -> int:
    n = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


def _cli_starts_without(module: str, loaded_first: str = "sys") -> None:
    """`import contextiq.cli` in a new interpreter where `module` cannot be imported (after
    `loaded_first`); a failure shows the traceback, which names the module that imported it."""
    code = f"import sys, {loaded_first}; sys.modules[{module!r}] = None; import contextiq.cli"
    env = os.environ | {"PYTHONPATH": SRC}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_cli_starts_where_resource_does_not_exist() -> None:
    """`resource` is POSIX only: imported at the top of ml/footprint.py, it kept every
    `contextiq` command from starting on Windows (start.bat)."""
    # psutil is loaded first: on Linux it uses `resource` itself, and on Windows it has none.
    _cli_starts_without("resource", loaded_first="psutil")


def test_commands_that_fit_no_model_load_no_pytorch() -> None:
    """Every command loads the whole CLI, so PyTorch imported there cost `contextiq import`,
    `migrate` or `--help` two seconds and about 200 MB of peak memory (docs/benchmarks.md,
    "The page cache while folding"); the commands that fit import it themselves."""
    _cli_starts_without("torch")


def test_help_reflows_a_docstrings_paragraphs_to_the_terminal() -> None:
    """Docstrings wrap at 100 columns in the source; `--help` must not keep those breaks."""
    result = runner.invoke(app, ["offline", "fit-predict", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "puts each user's events in time order; without it" in result.output
