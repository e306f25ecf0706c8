"""`contextiq dead-letters list|replay` against a temporary SQLite database."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from contextiq.cli import app
from contextiq.config import get_settings
from contextiq.domain import Interaction, InteractionType
from contextiq.events.types import InteractionRecorded, Unreadable
from contextiq.store.dead_letters import DeadLetterStore
from contextiq.store.store import Store
from contextiq.store.tables import OutboxRow
from tests.unit.test_cli import isolated, runner  # noqa: F401 (autouse fixture)

AT = datetime(2026, 6, 1, tzinfo=UTC)


def _set_aside(*event_ids: str) -> None:
    async def work() -> None:
        store = Store(get_settings().database_url)
        try:
            for event_id in event_ids:
                event = InteractionRecorded(
                    Interaction(event_id, "u1", "c1", InteractionType.LIKE, 3.0, AT)
                )
                await DeadLetterStore(store).record(event, "OverflowError: math range error", 3, AT)
        finally:
            await store.close()

    asyncio.run(work())


def _outbox() -> list[str]:
    async def work() -> list[str]:
        store = Store(get_settings().database_url)
        try:
            async with store.sessions() as session:
                return list(await session.scalars(select(OutboxRow.event_id)))
        finally:
            await store.close()

    return asyncio.run(work())


def _ok(*args: str) -> str:
    """Standard output only: log lines (stderr) from an earlier test's logging set-up stay out."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_and_replay(isolated: Path) -> None:  # noqa: F811
    _ok("migrate")
    assert _ok("dead-letters", "list") == ""
    _set_aside("e1", "e2", "e3")
    lines = _ok("dead-letters", "list").splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        [str(n), "interaction", f"e{n}", "failures 3"] for n in (1, 2, 3)
    ]
    assert lines[0].endswith("OverflowError: math range error")
    listed = _ok("dead-letters", "list", "--json", "--limit", "1").splitlines()
    [first] = [json.loads(line) for line in listed]
    assert (first["id"], first["user_id"], first["payload"]["event_id"]) == (1, "u1", "e1")
    assert datetime.fromisoformat(first["first_failed_at"]) == AT

    unknown = runner.invoke(app, ["dead-letters", "replay", "--id", "1", "--id", "99"])
    assert unknown.exit_code == 1 and "no dead letter with id 99" in unknown.output
    assert runner.invoke(app, ["dead-letters", "replay"]).exit_code == 2
    assert runner.invoke(app, ["dead-letters", "replay", "--id", "1", "--all"]).exit_code == 2
    assert _outbox() == []

    assert "replayed 1 dead letters" in _ok("dead-letters", "replay", "--id", "2")
    assert _outbox() == ["e2"]
    assert "replayed 2 dead letters" in _ok("dead-letters", "replay", "--all")
    assert sorted(_outbox()) == ["e1", "e2", "e3"]
    assert _ok("dead-letters", "list") == ""


def test_a_version_that_cannot_read_a_dead_letter_does_not_replay_it(isolated: Path) -> None:  # noqa: F811
    """A newer version's event: replayed by this one it would only be set aside again."""
    _ok("migrate")
    newer = {"type": "teleport", "schema_version": 1, "event_id": "t1", "user_id": "u1"}

    async def work() -> None:
        store = Store(get_settings().database_url)
        try:
            await DeadLetterStore(store).record_unreadable(Unreadable(newer, "UnknownEvent"), "t1")
        finally:
            await store.close()

    asyncio.run(work())
    refused = runner.invoke(app, ["dead-letters", "replay", "--id", "1"])
    assert refused.exit_code == 1
    assert "dead letters 1 hold events this version cannot read" in refused.stderr
    assert "nothing was replayed" in refused.stderr
    left = runner.invoke(app, ["dead-letters", "replay", "--all"])
    assert left.exit_code == 1 and "replayed 0 dead letters" in left.stdout
    assert "dead letters 1 hold events this version cannot read" in left.stderr
    assert _outbox() == [] and "teleport\tt1" in _ok("dead-letters", "list")
