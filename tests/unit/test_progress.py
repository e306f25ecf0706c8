"""Progress of long jobs: a bar on a terminal, plain lines elsewhere."""

import io

import pytest

from contextiq import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    clock = iter([0.0, 6.0, 6.0, 7.0, 7.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress.track(1_000, "import", stream=out) as bar:
        assert isinstance(bar, progress.Lines)
        bar.advance(600)  # 6 s after the start: one line
        bar.advance(400)
    lines = out.getvalue().splitlines()
    assert lines[0] == "import: 600/1,000 rows (60%), 100 rows/s, ETA 4s"
    assert lines[1] == "import: 1,000/1,000 rows (100%), 143 rows/s, 7.0s"


def test_bytes_are_shown_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    clock = iter([0.0, 6.0, 6.0, 8.0, 8.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress.track(4_000_000, "events.csv", unit="B", stream=out) as bar:
        bar.advance(1_200_000)
        bar.advance(2_800_000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "events.csv: 1.2 MB/4.0 MB (30%), 200.0 kB/s, ETA 14s"
    assert lines[1] == "events.csv: 4.0 MB/4.0 MB (100%), 500.0 kB/s, 8.0s"


def test_a_bar_on_a_terminal() -> None:
    out = Terminal()
    with progress.track(10, "vectors", unit="items", stream=out) as bar:
        assert isinstance(bar, progress.Bar)
        bar.advance(10)
    assert "vectors" in out.getvalue() and "10/10" in out.getvalue()


def test_a_slow_job_shows_its_rate_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # Old code rounded every rate to a whole number: the import's last steps (profiles,
    # popularity, indexes: 6 steps in 39 s at 5,000,000 events) read "0 steps/s".
    out = io.StringIO()
    clock = iter([0.0, 12.5, 12.5, 39.0, 39.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress.track(6, "last steps", unit="steps", stream=out) as bar:
        bar.advance(2)
        bar.advance(4)
    lines = out.getvalue().splitlines()
    assert lines[0] == "last steps: 2/6 steps (33%), 0.16 steps/s, ETA 25s"
    assert lines[1] == "last steps: 6/6 steps (100%), 0.15 steps/s, 39.0s"
