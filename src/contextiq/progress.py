"""Progress of long jobs: a live bar on a terminal, a plain line every few seconds otherwise.

Logs and CI output get lines they can keep ("import interactions: 1,200,000/5,000,000 rows
(24%), 81,000 rows/s, ETA 47s"); a person at a terminal gets rich's bar with the same facts.
The unit `B` counts bytes, shown scaled ("120.5 MB/402.0 MB (30%), 9.8 MB/s, ETA 29s"): a
file's reader reports how far it is (`ReadPosition`) instead of counting its lines first.
"""

import sys
import time
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self, TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class Tracker(Protocol):
    """What a long job reports to; use as a context manager so the last figures are shown."""

    def advance(self, n: int) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Quiet:
    """Shows nothing: the tracker of a job whose caller asked for no progress."""

    def __init__(self, total: int | None = None) -> None:
        """Takes `total` as every tracker is made, and ignores it."""

    def advance(self, n: int) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class _Rate(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{_amount(speed, self.unit)}/s" if speed else f"- {self.unit}/s")


#: The unit counted in bytes, and shown scaled (kB, MB, GB).
BYTES = "B"


def _amount(n: float, unit: str) -> str:
    """Bytes scaled; a count whole, or to two digits below 10, so a slow job's rate (a step
    every few seconds) reads "0.16 steps/s", not "0 steps/s"."""
    if unit == BYTES:
        return decimal(int(n))
    return f"{n:.2g} {unit}" if 0 < n < 10 and n != int(n) else f"{n:,.0f} {unit}"


class Bar:
    """rich's live bar: rows (or bytes), percent, rate, elapsed and ETA."""

    def __init__(self, total: int | None, desc: str, unit: str, stream: TextIO) -> None:
        in_bytes = unit == BYTES
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn() if in_bytes else MofNCompleteColumn(),
            TaskProgressColumn(),
            TransferSpeedColumn() if in_bytes else _Rate(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
        )
        self.task = self.progress.add_task(desc, total=total)

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()


class Lines:
    """One line every `every_s` seconds and one at the end; nothing that needs a terminal."""

    def __init__(
        self, total: int | None, desc: str, unit: str, stream: TextIO, every_s: float = 5.0
    ) -> None:
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.every_s = every_s
        self.done = self.shown_done = 0
        self.started = self.shown = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self.shown >= self.every_s:
            self._line()

    def _line(self) -> None:
        self.shown = now = time.monotonic()
        self.shown_done = self.done
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        done = _amount(self.done, self.unit)
        if self.total:
            total = _amount(self.total, self.unit)
            if self.unit != BYTES:  # "600/1,000 rows", but "1.2 MB/2.0 MB"
                done = done.removesuffix(f" {self.unit}")
            done += f"/{total} ({100 * self.done / self.total:.0f}%)"
        parts = [f"{self.desc}: {done}", f"{_amount(rate, self.unit)}/s"]
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {(self.total - self.done) / rate:.0f}s")
        else:
            parts.append(f"{elapsed:.1f}s")
        print(", ".join(parts), file=self.stream, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None and (self.done != self.shown_done or self.done == 0):
            self._line()


def track(
    total: int | None, desc: str, unit: str = "rows", stream: TextIO | None = None
) -> Tracker:
    """A bar when `stream` (default stderr) is a terminal, plain progress lines otherwise."""
    out = stream or sys.stderr
    return Bar(total, desc, unit, out) if out.isatty() else Lines(total, desc, unit, out)


class ReadPosition:
    """How far a reader is into its file, in bytes: a long read's progress and ETA from its
    first second, with no pass over a 5,000,000-line file to count its lines first."""

    def __init__(self, path: Path) -> None:
        self.size = path.stat().st_size
        self._file: BinaryIO | None = None
        self._shown = 0

    def reading(self, file: TextIO) -> None:
        """Follow `file` (the path opened as text) by its bytes, read ahead a block at a time;
        a pipe (`<(zcat events.csv.gz)`) has no position to follow, so it shows none."""
        self._file = file.buffer if file.seekable() else None

    @property
    def bytes(self) -> int:
        """Bytes taken from the file so far (its size once the reader closed it)."""
        if self._file is None:
            return 0
        return self.size if self._file.closed else self._file.tell()

    def show(self, progress: Tracker) -> None:
        """Advance `progress` (in `BYTES`, its total `size`) by the bytes read since last time."""
        read = self.bytes
        if read > self._shown:
            progress.advance(read - self._shown)
            self._shown = read
