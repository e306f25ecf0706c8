"""An interactions file parsed by several processes comes back whole and in file order."""

import asyncio
import multiprocessing
from contextlib import aclosing
from pathlib import Path

import pytest

from contextiq.config import Settings
from contextiq.data import files
from contextiq.data.parsing import Parsed, parsed_chunks
from contextiq.domain import Interaction
from contextiq.store.bulk import interaction_rows, sqlite_time

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]


def _events(path: Path, n: int) -> Path:
    lines = ["user_id,content_id,interaction_type,timestamp"]
    for i in range(n):
        kind = "nonsense" if i % 7 == 3 else "like"  # a bad row now and then
        lines.append(f"u{i % 5},c{i},{kind},2026-01-0{1 + i % 9}T00:00:{i % 60:02d}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("size", [4, 100])  # processes, or one chunk parsed in place
def test_chunks_come_back_in_file_order_as_one_reader_would_read_them(
    tmp_path: Path, size: int
) -> None:
    path = _events(tmp_path / "events.csv", 30)

    async def parse() -> list[Parsed]:
        return [c async for c, _ in parsed_chunks(path, SETTINGS, sqlite_time, size)]

    got = asyncio.run(parse())
    assert [len(c) for c in got] == ([4] * 7 + [2] if size == 4 else [30])
    expected = [files.interaction_from(path, SETTINGS, r) for r in files.numbered_records(path)]
    assert [line for c in got for line, _ in c] == [line for line, _ in expected]
    for (_, row), (_, item) in zip([x for c in got for x in c], expected, strict=True):
        if isinstance(item, Interaction):
            assert row == interaction_rows([item], sqlite_time)[0]
        else:
            assert row == item and "interaction_type" in item.reason


def test_stopping_early_ends_the_parsing_processes(tmp_path: Path) -> None:
    path = _events(tmp_path / "events.csv", 40)

    async def first() -> int:
        async with aclosing(parsed_chunks(path, SETTINGS, sqlite_time, 4)) as chunks:
            async for chunk, _ in chunks:
                return len(chunk)
        return 0

    assert asyncio.run(first()) == 4
    assert multiprocessing.active_children() == []
