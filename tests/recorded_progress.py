"""A progress tracker that keeps what it was told, for tests of what a long job shows."""

from typing import Any

from contextiq.progress import Quiet


class RecordedProgress(Quiet):
    """Stands in for `progress.track`'s trackers: its total, unit and every advance."""

    def __init__(self, total: int | None, desc: str, unit: str = "rows", **_: Any) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.advances: list[int] = []

    def advance(self, n: int) -> None:
        self.advances.append(n)
