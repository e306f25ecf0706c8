"""`contextiq keys create|list|revoke`: API keys with roles, stored hashed.

A created key is printed once, alone on the last line, so a script can take it with `tail -1`.
Changes apply to running servers within CONTEXTIQ_KEY_CACHE_SECONDS, without a restart, and
are written to the audit log.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from contextiq.cli.audit import cli_actor
from contextiq.cli.database import migrate_database, on_store
from contextiq.config import get_settings
from contextiq.security import AuditLog, KeyRing, Role
from contextiq.security.keys import KeyRefused
from contextiq.security.principal import KeyRoleName

T = TypeVar("T")
keys_app = typer.Typer(help="API keys with roles (client, admin).", no_args_is_help=True)
#: Matched whole (`fullmatch`): `$` would also let a trailing newline through.
_NAME = re.compile(r"[A-Za-z0-9_.:@\-]{1,128}")


def _run(work: Callable[[KeyRing, AuditLog], Awaitable[T]]) -> T:
    settings = get_settings()
    migrate_database(settings.database_url)
    return on_store(settings.database_url, lambda store: work(KeyRing(store), AuditLog(store)))


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="a unique name, shown in the audit log")],
    role_name: Annotated[KeyRoleName, typer.Option("--role", help="client or admin")] = "client",
) -> None:
    """Create a key and print it once (the last line of the output)."""
    role = Role(role_name)
    if not _NAME.fullmatch(name):
        raise typer.BadParameter(
            "letters, digits and _ . : @ - only, up to 128", param_hint="--name"
        )

    async def work(keys: KeyRing, audit: AuditLog) -> str:
        key = await keys.create(name, role)
        await audit.record(cli_actor(), "keys create", f"key:{name}", 201, {"role": role.value})
        return key

    try:
        key = _run(work)
    except KeyRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created {role.value} key {name!r}; it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def list_keys() -> None:
    """Names, roles and dates of every key; never the keys themselves."""

    async def work(keys: KeyRing, _: AuditLog) -> None:
        for k in await keys.all():
            state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
            typer.echo(f"{k.name}\t{k.role.value}\tcreated {k.created_at:%Y-%m-%d %H:%M}\t{state}")

    _run(work)


@keys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key; running servers refuse it within CONTEXTIQ_KEY_CACHE_SECONDS."""

    async def work(keys: KeyRing, audit: AuditLog) -> bool:
        done = await keys.revoke(name)
        await audit.record(cli_actor(), "keys revoke", f"key:{name}", 200 if done else 404)
        return done

    if not _run(work):
        typer.echo(f"error: no active key named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name!r}")
