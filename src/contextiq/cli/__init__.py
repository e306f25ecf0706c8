"""The `contextiq` command line."""

import asyncio
import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from contextiq.cli.bootstrap import bootstrap, seed_demo, train, write_demo_files
from contextiq.cli.ml import evaluate, offline_app
from contextiq.config import Settings, get_settings
from contextiq.ml.footprint import TrainingTooLarge
from contextiq.store.migrate import upgrade
from contextiq.store.store import Store

app = typer.Typer(help="Context IQ: personalized content recommendations.", no_args_is_help=True)
app.add_typer(offline_app, name="offline", help="Batch experiments on CSV files.")
app.command("evaluate")(evaluate)


def _say(message: str) -> None:
    typer.echo(message)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    bootstrap_first: Annotated[
        bool,
        typer.Option("--bootstrap", help="migrate, seed demo data if empty, train if no model"),
    ] = False,
    host: Annotated[str | None, typer.Option(help="default: CONTEXTIQ_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: CONTEXTIQ_PORT")] = None,
) -> None:
    """Serve the API and web UI (with the in-process worker on local:// events)."""
    from contextiq.api.app import create_app

    settings = get_settings()
    if bootstrap_first:
        bootstrap(settings, _say)
    _logging()
    bind_host, bind_port = host or settings.host, port or settings.port
    _say(f"==> serving on http://{bind_host}:{bind_port} (API docs at /docs)")
    # At "warning" uvicorn's access lines are dropped anyway; access_log=False skips building them.
    uvicorn.run(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Consume interaction events, update profiles and popularity, retrain and promote."""
    from contextiq.worker.runner import run_worker

    _logging()
    asyncio.run(run_worker(get_settings()))


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    upgrade(get_settings().database_url)
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
    upgrade(settings.database_url)
    asyncio.run(seed_demo(settings, _say, seed_value, items, users, interactions, vectors))


class ImportFormat(StrEnum):
    ML_100K = "movielens-100k"
    ML_SMALL = "movielens-small"
    FILES = "files"


@app.command("import")
def import_data(
    kind: Annotated[ImportFormat, typer.Argument(help="dataset format")],
    path: Annotated[Path | None, typer.Argument(help="dataset directory (MovieLens)")] = None,
    content: Annotated[Path | None, typer.Option(help="content CSV/JSONL (files)")] = None,
    interactions: Annotated[
        Path | None, typer.Option(help="interactions CSV/JSONL (files)")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="stop at the first bad row instead of skipping it (files)")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="write every bad row with its line and reason here")
    ] = None,
    vectors: Annotated[
        bool,
        typer.Option(
            help="compute item vectors for local:// after the import (else: `contextiq vectors`)"
        ),
    ] = True,
) -> None:
    """Import MovieLens-100K, MovieLens latest-small, or generic CSV/JSONL files.

    Files are streamed in chunks; a bad row is reported with its line number and skipped
    (or stops the import with --strict); importing the same files again adds nothing.
    """
    from contextiq.cli.imports import import_files, load
    from contextiq.data import importers

    settings = get_settings()
    if kind is ImportFormat.FILES:
        if content is None and interactions is None:
            raise typer.BadParameter("give --content and/or --interactions")
        for given in (content, interactions):
            if given is not None and not given.is_file():
                raise typer.BadParameter(f"{given} is not a file")
        upgrade(settings.database_url)
        if not asyncio.run(
            import_files(settings, _say, content, interactions, strict, rejects, vectors)
        ):
            raise typer.Exit(1)
        return
    if path is None or not path.is_dir():
        raise typer.BadParameter(f"{kind.value} needs the dataset directory")
    reader = importers.movielens_100k if kind is ImportFormat.ML_100K else importers.movielens_small
    data = reader(path, settings)
    upgrade(settings.database_url)

    async def run() -> None:
        store = Store(settings.database_url)
        try:
            await load(store, data, _say)
        finally:
            await store.close()

    asyncio.run(run())


@app.command("vectors")
def vectors_command() -> None:
    """Compute the item vectors `local://` scores with, for items that lack one (resumable)."""
    from contextiq.cli.bootstrap import compute_vectors

    settings = get_settings()
    upgrade(settings.database_url)

    async def run() -> None:
        store = Store(settings.database_url)
        try:
            await compute_vectors(store, settings, _say)
        finally:
            await store.close()

    asyncio.run(run())


@app.command("train")
def train_command() -> None:
    """Train on all stored interactions; promote the model if it is no worse."""
    settings = get_settings()
    upgrade(settings.database_url)
    _logging()  # progress lines: a large catalogue trains for minutes
    try:
        info = asyncio.run(train(settings))
    except (TrainingTooLarge, ValueError) as refused:  # too large, or an unknown model family
        _say(f"error: {refused}")
        raise typer.Exit(2) from None
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

    _say(json.dumps(create_app(Settings()).openapi(), indent=2, sort_keys=True))
