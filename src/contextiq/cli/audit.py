"""Admin actions taken from the command line go to the same audit log as the API's."""

import asyncio
import getpass
from typing import Any

from contextiq.cli.database import migrate_database
from contextiq.config import Settings
from contextiq.security import AuditLog
from contextiq.store.store import Store


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


def record(
    settings: Settings,
    action: str,
    target: str | None,
    status: int,
    details: dict[str, Any] | None = None,
) -> None:
    migrate_database(settings.database_url)

    async def write() -> None:
        store = Store(settings.database_url)
        try:
            await AuditLog(store).record(cli_actor(), action, target, status, details)
        finally:
            await store.close()

    asyncio.run(write())
