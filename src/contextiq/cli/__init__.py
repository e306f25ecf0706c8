"""The `contextiq` command line."""

import asyncio
import ctypes
import ipaddress
import json
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from contextiq.backends import scheme
from contextiq.cli.audit import audited
from contextiq.cli.bootstrap import bootstrap, seed_demo, train, write_demo_files
from contextiq.cli.database import migrate_database, on_store, require_database
from contextiq.cli.dead_letters import dead_letters_app
from contextiq.cli.keys import keys_app
from contextiq.cli.listen import claim_address
from contextiq.cli.ml import evaluate, offline_app
from contextiq.cli.processes import ServeProcesses
from contextiq.cli.sole_process import sole_process
from contextiq.config import InvalidSettings, Settings, get_settings
from contextiq.ml.footprint import TrainingTooLarge
from contextiq.observability.logs import configure_logging
from contextiq.observability.metrics import use_multiprocess_dir
from contextiq.security.rate_limit import PER_PROCESS, storage_url
from contextiq.store.migrate import upgrade
from contextiq.store.store import Store
from contextiq.worker.training import TrainingBusy, training_turn

app = typer.Typer(
    help="Context IQ: personalized content recommendations.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(offline_app, name="offline", help="Batch experiments on CSV files.")
app.command("evaluate")(evaluate)
app.add_typer(keys_app, name="keys")
app.add_typer(dead_letters_app, name="dead-letters")


def _say(message: str) -> None:
    typer.echo(message)


@app.callback()
def _check_settings() -> None:
    # Before any command: wrong settings end it with one line each, not a traceback.
    try:
        get_settings()
    except InvalidSettings as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def unshared_state(settings: Settings) -> str | None:
    """Why several request processes would disagree on these settings, if they would."""
    if scheme(settings.cache_url) == "memory":
        return (
            "several processes must share one cache, or an interaction in one leaves the "
            "others serving stale lists: set CONTEXTIQ_CACHE_URL=disk:///a/cache.db (this "
            "host) or redis://... (any host)"
        )
    limited = settings.rate_limit or settings.rate_limit_per_ip
    if limited and storage_url(settings.cache_url) == PER_PROCESS:
        return (
            "rate limits are counted in Redis when the cache is Redis, else per process, so "
            "N processes would allow N times the limit: set CONTEXTIQ_CACHE_URL=redis://..."
        )
    return None


@app.command()
def serve(
    bootstrap_first: Annotated[
        bool,
        typer.Option("--bootstrap", help="migrate, seed demo data if empty, train if no model"),
    ] = False,
    host: Annotated[str | None, typer.Option(help="default: CONTEXTIQ_HOST")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="default: CONTEXTIQ_PORT")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="request processes sharing the memory-mapped model; >1 needs a shared cache",
        ),
    ] = 1,
) -> None:
    """Serve the API and web UI (with the in-process worker on local:// events)."""
    settings = get_settings()
    if workers > 1 and (problem := unshared_state(settings)):
        raise typer.BadParameter(problem, param_hint="--workers")
    bind_host, bind_port = host or settings.host, port if port is not None else settings.port
    if not (settings.auth_required or settings.allow_open or is_loopback(bind_host)):
        typer.echo(
            f"error: refusing to serve on {bind_host} with authentication off: anyone who can "
            "reach it could read every user's history. Set CONTEXTIQ_AUTH_REQUIRED=true (and "
            "create keys with `contextiq keys create`), or CONTEXTIQ_ALLOW_OPEN=true to accept "
            "an open server (docs/security.md).",
            err=True,
        )
        raise typer.Exit(2)
    require_database(settings.database_url)
    sock = claim_address(bind_host, bind_port)  # before bootstrapping: a port in use fails now
    with sole_process("serve", settings.database_url, settings.cache_url):
        code = _serve(settings, sock, bootstrap_first, workers)
    if code:
        raise typer.Exit(code)


def _serve(settings: Settings, sock: socket.socket, bootstrap_first: bool, workers: int) -> int:
    """Bootstrap if asked, then serve on the claimed socket until stopped; the exit code."""
    from contextiq.api.app import create_app

    configure_logging(settings)  # first: a first model at 100,000 items trains for minutes
    if bootstrap_first:
        bootstrap(settings, _say)
    bind_host, bind_port = sock.getsockname()[:2]
    _say(f"==> serving on http://{bind_host}:{bind_port} (API docs at /docs)")
    # At "warning" uvicorn's access lines are dropped anyway; access_log=False skips building them.
    if workers == 1:
        config = uvicorn.Config(
            create_app(settings),
            log_level="warning",
            access_log=False,
            log_config=None,  # uvicorn's own lines go through ours (JSON or text, redacted)
        )
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    if settings.migrate_on_start:  # once here, so the N + 1 processes find nothing to do
        upgrade(settings.database_url)
    config = uvicorn.Config(
        "contextiq.api.app:serving_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        log_level="warning",
        access_log=False,
        log_config=None,  # as above
    )
    processes = ServeProcesses(config, workers, sock, _api_duties)
    # Before any process starts: each writes its metrics there and /metrics sums them all.
    use_multiprocess_dir()
    _say(f"    {workers} request processes, and one for the relay and embedded worker")
    return processes.run()


def _api_duties(beats_into: ctypes.c_double) -> None:
    """The relay and, on the in-process bus, the worker: once for all request processes;
    its heartbeat goes to `beats_into`, which `serve` watches."""
    from contextiq.worker.runner import run_worker

    asyncio.run(run_worker(get_settings(), api_duties=True, beats_into=beats_into))


@app.command()
def worker() -> None:
    """Consume interaction events, update profiles and popularity, retrain and promote."""
    from contextiq.worker.runner import run_worker

    settings = get_settings()
    require_database(settings.database_url)
    with sole_process("worker", settings.database_url, settings.cache_url):
        asyncio.run(run_worker(settings))


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    migrate_database(get_settings().database_url)
    _say("database is up to date")


@app.command()
def seed(
    demo: Annotated[
        bool, typer.Option("--demo", help="generate the demo catalogue and users")
    ] = False,
    seed_value: Annotated[int, typer.Option("--seed")] = 42,
    items: int = 2_000,
    users: int = 500,
    interactions: Annotated[
        int | None,
        typer.Option(help="total interactions (default: 8-200 per user, about 80 on average)"),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="write content.csv and interactions.csv for `import files` instead of loading"
        ),
    ] = None,
    vectors: Annotated[
        bool, typer.Option(help="compute item vectors for local:// (else: `contextiq vectors`)")
    ] = True,
) -> None:
    """Load generated demo data (no external data is used), or write it as import files."""
    if not demo:
        raise typer.BadParameter("only --demo is supported; use `contextiq import` for real data")
    if output_dir is not None:
        write_demo_files(output_dir, _say, seed_value, items, users, interactions)
        return
    settings = get_settings()
    migrate_database(settings.database_url)
    asyncio.run(seed_demo(settings, _say, seed_value, items, users, interactions, vectors))


#: How long `contextiq import` spends on item vectors by default: on two quiet cores the 5,900
#: most popular items, the model's loading included (a fifth of that on busy cores), while a
#: default import of 5,000,000 interactions stays within 3 minutes on PostgreSQL
#: (docs/benchmarks.md). The worker completes the rest; until then requests score an item
#: without one by its category's mean.
DEFAULT_VECTOR_SECONDS = 45.0


class ImportFormat(StrEnum):
    ML_100K = "movielens-100k"
    ML_SMALL = "movielens-small"
    FILES = "files"


@app.command("import")
def import_data(
    kind: Annotated[ImportFormat, typer.Argument(help="dataset format")],
    path: Annotated[Path | None, typer.Argument(help="dataset directory (MovieLens)")] = None,
    content: Annotated[
        Path | None, typer.Option(help="content CSV, or JSON lines if .jsonl/.ndjson (files)")
    ] = None,
    interactions: Annotated[
        Path | None, typer.Option(help="interactions CSV, or JSON lines if .jsonl/.ndjson (files)")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="stop at the first bad row instead of skipping it (files)")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="write every bad row with its line and reason here (files)")
    ] = None,
    vectors: Annotated[
        bool,
        typer.Option(
            help="compute item vectors for local:// after the import (files; else: `contextiq"
            " vectors`)"
        ),
    ] = True,
    vector_seconds: Annotated[
        float,
        typer.Option(
            min=0,
            help="spend at most this long on item vectors, most popular items first; the worker"
            " completes the rest in the background (files)",
        ),
    ] = DEFAULT_VECTOR_SECONDS,
) -> None:
    """Import MovieLens-100K, MovieLens latest-small, or generic CSV or JSON lines files.

    Files are streamed in chunks; a bad row is reported with its line number and skipped
    (or stops the import with --strict); importing the same files again adds nothing. An
    interaction without event_id is identified by its user or session, item, type, timestamp
    and duration, or, without a timestamp, by the file's absolute path and its record number.
    """
    from contextiq.cli.imports import import_files, load
    from contextiq.data import importers

    settings = get_settings()
    if kind is ImportFormat.FILES:
        if content is None and interactions is None:
            raise typer.BadParameter("give --content and/or --interactions")
        for given in (content, interactions):
            if given is None:
                continue
            if not given.is_file():
                raise typer.BadParameter(f"{given} is not a file")
            if rejects is not None and rejects.exists() and given.samefile(rejects):
                raise typer.BadParameter(f"--rejects {rejects} would overwrite that input file")
        migrate_database(settings.database_url)
        if not asyncio.run(
            import_files(
                settings, _say, content, interactions, strict, rejects, vectors, vector_seconds
            )
        ):
            raise typer.Exit(1)
        return
    if path is None or not path.is_dir():
        raise typer.BadParameter(f"{kind.value} needs the dataset directory")
    reader = importers.movielens_100k if kind is ImportFormat.ML_100K else importers.movielens_small
    data = reader(path, settings)
    migrate_database(settings.database_url)
    on_store(settings.database_url, lambda store: load(store, settings, data, _say))


@app.command("vectors")
def vectors_command() -> None:
    """Compute the item vectors `local://` scores with, for items that lack one (resumable)."""
    from contextiq.cli.bootstrap import compute_vectors

    settings = get_settings()
    migrate_database(settings.database_url)
    on_store(settings.database_url, lambda store: compute_vectors(store, settings, _say))


#: `contextiq train`'s exit status when another process trains (after `--wait`, if given):
#: not a failure of this training, which a scheduler may simply run again later.
TRAINING_BUSY = 3
#: Its exit status when it refuses (too large for memory, an unwritable model directory, an
#: unknown family, a database it cannot open): running it again at once would mostly be too.
TRAINING_REFUSED = 2


@app.command("train")
def train_command(
    family: Annotated[
        str | None,
        typer.Option(
            help="Train this model family alone (ml/families.py). Without it: the serving"
            " family, then those of CONTEXTIQ_MODEL_FAMILIES and of live experiments' arms,"
            " as the worker does.",
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="When another process (serve, worker, train) is training: wait up to this"
            f" long for it to finish, then train. Without it: exit {TRAINING_BUSY} at once.",
        ),
    ] = 0.0,
) -> None:
    """Train on all stored interactions (those of the last CONTEXTIQ_TRAINING_WINDOW_DAYS up
    to the newest, when set); promote the model if it is no worse.

    Prints the serving family's version (or FAMILY's). A family other than the serving one
    is only accepted for the requests and experiment arms that name it (status "candidate"),
    never promoted. One training at a time across processes: exits 3 if another one is
    still running (after --wait). Exits 2, with one line, when the training would not fit in
    memory or its model cannot be written (a read-only or full model directory).
    """
    settings = get_settings()
    migrate_database(settings.database_url)
    configure_logging(settings)  # progress lines: a large catalogue trains for minutes

    def waiting() -> None:
        _say(f"another process is training: waiting up to {wait:.0f}s for it to finish")

    try:
        info = asyncio.run(train(settings, family, wait, waiting))
    except TrainingBusy:
        _say(
            "another process is training: not training now"
            + (f" (waited {wait:.0f}s)" if wait else "")
        )
        raise typer.Exit(TRAINING_BUSY) from None
    except (TrainingTooLarge, ValueError) as refused:  # too large, or an unknown model family
        _say(f"error: {refused}")
        raise typer.Exit(TRAINING_REFUSED) from None
    except OSError as unwritable:  # the model directory: read-only, full (it names the path)
        _say(f"error: {unwritable}")
        raise typer.Exit(TRAINING_REFUSED) from None
    if info is None:
        _say("no interactions to train on")
        raise typer.Exit(1)
    _say(
        json.dumps(
            {"version": info.version, "status": info.status, "metrics": info.metrics}, indent=2
        )
    )


@app.command()
def openapi() -> None:
    """Print the OpenAPI schema (the web UI's types are generated from it)."""
    from contextiq.api.app import create_app

    _say(json.dumps(create_app(get_settings()).openapi(), indent=2, sort_keys=True))


models_app = typer.Typer(help="The model registry: list versions, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Every trained version, oldest first, with its held-out metrics; * marks the active one.

    A version whose record cannot be read is listed as unreadable, with the reason.
    """
    from contextiq.ml.registry import UNREADABLE, ModelRegistry

    registry = ModelRegistry(get_settings().model_dir)
    active = registry.active_version()
    for version in registry.names():
        mark = "*" if version == active else " "
        try:
            info = registry.info(version)
        except UNREADABLE as damaged:
            _say(f"{mark} {version}  unreadable: {damaged}")
            continue
        metrics = " ".join(f"{k}={v:.4f}" for k, v in sorted(info.metrics.items()))
        _say(f"{mark} {version}  {info.created_at}  {metrics}")


@models_app.command("prune")
def models_prune(
    keep: Annotated[int, typer.Option(min=1, help="how many of the newest versions stay")] = 10,
) -> None:
    """Delete all but the newest KEEP versions: each retraining adds one, and the model volume
    fills. Never the active version, a family's newest accepted one, or one a live
    experiment's arm pins; run it after a training, or on a schedule. Also removes what a
    training killed while saving left (a model's size each), unless a training runs now.
    """
    from contextiq.ml.registry import ModelRegistry
    from contextiq.store.experiments import ExperimentStore

    settings = get_settings()
    registry = ModelRegistry(settings.model_dir)

    async def unfinished(store: Store) -> list[str] | None:
        """The unfinished saves removed; None while a training holds the lock (one may be its
        save in progress)."""
        async with training_turn(store) as mine:
            return await asyncio.to_thread(registry.sweep_unfinished) if mine else None

    with audited(settings, "models prune", f"keep:{keep}"):
        live = on_store(settings.database_url, lambda store: ExperimentStore(store).live())
        pinned = {a.config.model_version for e in live for a in e.arms if a.config.model_version}
        removed = registry.prune(keep, pinned)
        swept = on_store(settings.database_url, unfinished) if registry.unfinished() else []
    _say(f"removed {len(removed)} versions" + (f": {', '.join(removed)}" if removed else ""))
    if swept:
        _say(f"removed {len(swept)} unfinished saves of a killed training: {', '.join(swept)}")
    elif swept is None:
        _say("another process is training: unfinished saves are left to it")


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="a version from `models list`")],
) -> None:
    """Serve VERSION (a rollback, or a rejected candidate); every replica swaps to it in seconds.

    A version that cannot be loaded (files damaged or missing) is refused, nothing switched.
    """
    from contextiq.ml.registry import ModelRegistry

    settings = get_settings()
    registry = ModelRegistry(settings.model_dir)
    with audited(settings, "models promote", f"model:{version}"):
        try:
            # Loaded first: replicas keep their model on a version they cannot load, but every
            # process started after would serve none.
            registry.load(version)
        except KeyError as exc:
            raise typer.BadParameter(f"{exc.args[0]}; see `contextiq models list`") from exc
        except Exception as exc:  # whatever its damaged files raise, as `ModelHolder.refresh`
            _say(f"error: model version {version} cannot be loaded: {exc}")
            raise typer.Exit(2) from None
        registry.promote(version)
    _say(f"{version} is now the active model")
