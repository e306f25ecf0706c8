"""`contextiq dead-letters list|replay`: events the worker set aside (worker/dead_letters.py).

A replay puts the events back on the outbox, so the running relay and worker apply them the
normal way; run it once the cause is fixed (an event that fails again comes back). Replays
are written to the audit log.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, NoReturn, TypeVar

import typer

from contextiq.cli.audit import cli_actor
from contextiq.cli.database import migrate_database, on_store
from contextiq.config import get_settings
from contextiq.security import AuditLog
from contextiq.store.dead_letters import (
    DeadLetterStore,
    UnknownDeadLetters,
    UnreadableDeadLetters,
)

T = TypeVar("T")
dead_letters_app = typer.Typer(
    help="Events that failed on every delivery: list them, replay them.", no_args_is_help=True
)


def _run(work: Callable[[DeadLetterStore, AuditLog], Awaitable[T]]) -> T:
    settings = get_settings()
    migrate_database(settings.database_url)
    url = settings.database_url
    return on_store(url, lambda store: work(DeadLetterStore(store), AuditLog(store)))


@dead_letters_app.command("list")
def list_letters(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, oldest first")] = 100,
) -> None:
    """Id, event type and id, failures, first and last failure, and the error of each."""
    for letter in _run(lambda letters, _: letters.listed(limit)):
        if as_json:
            typer.echo(json.dumps(asdict(letter), default=datetime.isoformat, sort_keys=True))
            continue
        typer.echo(
            f"{letter.id}\t{letter.event_type}\t{letter.event_id}\tfailures {letter.failures}"
            f"\tfirst {letter.first_failed_at:%Y-%m-%d %H:%M:%S}"
            f"\tlast {letter.last_failed_at:%Y-%m-%d %H:%M:%S}\t{letter.error}"
        )


@dead_letters_app.command("replay")
def replay(
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="a dead letter's id (repeatable)")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="every dead letter")] = False,
) -> None:
    """Put dead letters back on the outbox and delete them; the worker applies them again."""
    if bool(ids) == every:
        raise typer.BadParameter("give --id N (one or more) or --all", param_hint="--id/--all")

    async def work(letters: DeadLetterStore, audit: AuditLog) -> tuple[int, list[int]]:
        if every:
            replayed, left = await letters.replay_all()
        else:
            replayed, left = await letters.replay(ids or []), []
        target = "dead-letters:all" if every else f"dead-letters:{','.join(map(str, ids or []))}"
        await audit.record(cli_actor(), "dead-letters replay", target, 200, {"replayed": replayed})
        return replayed, left

    try:
        replayed, left = _run(work)
    except UnknownDeadLetters as exc:
        _fail(
            f"no dead letter with id {exc} (see `contextiq dead-letters list`); nothing was"
            " replayed"
        )
    except UnreadableDeadLetters as exc:
        _fail(f"{_unreadable(str(exc))}: replay them with that version; nothing was replayed")
    typer.echo(f"replayed {replayed} dead letters onto the outbox")
    if left:
        _fail(f"{_unreadable(', '.join(map(str, left)))}, left for that version to replay")


def _unreadable(ids: str) -> str:
    return f"dead letters {ids} hold events this version cannot read (a newer version's)"


def _fail(reason: str) -> NoReturn:
    typer.echo(f"error: {reason}", err=True)
    raise typer.Exit(1)
