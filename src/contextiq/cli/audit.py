"""Admin actions taken from the command line go to the same audit log as the API's."""

import asyncio
import getpass
from collections.abc import Iterator
from contextlib import contextmanager

from contextiq.cli.database import migrate_database
from contextiq.config import Settings
from contextiq.security import AuditLog
from contextiq.store.store import Store


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


@contextmanager
def audited(settings: Settings, action: str, target: str | None) -> Iterator[None]:
    """Open (and migrate) the database before the block's change, record the change after it.

    A change outside the database (the model registry's files) takes effect at once: were the
    database checked only by the audit write, an unreachable one would fail the command after
    the change, and the operator would take it for not done. Checked first, it refuses the
    change with nothing changed (exit 2, `require_database`). A block that raises is not
    recorded.
    """
    migrate_database(settings.database_url)
    yield

    async def write() -> None:
        store = Store(settings.database_url)
        try:
            await AuditLog(store).record(cli_actor(), action, target, 200)
        finally:
            await store.close()

    asyncio.run(write())
