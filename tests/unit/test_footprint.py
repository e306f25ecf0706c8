"""The memory a training may count on inside a container (ml/footprint.py)."""

from pathlib import Path

import pytest

from contextiq.ml import footprint
from contextiq.ml.footprint import GIB, container_available_bytes


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_cgroup_v2_limit_less_what_the_container_holds(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory.max": f"{4 * GIB}\n",
            "memory.current": f"{3 * GIB}\n",
            # Page cache it could drop (files read through) is not held.
            "memory.stat": f"anon {GIB}\ninactive_file {GIB}\nactive_file {GIB}\n",
        },
    )
    assert container_available_bytes(root) == 2 * GIB


def test_cgroup_v1_limit_less_what_the_container_holds(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory/memory.limit_in_bytes": f"{8 * GIB}\n",
            "memory/memory.usage_in_bytes": f"{5 * GIB}\n",
            "memory/memory.stat": f"cache {2 * GIB}\ntotal_inactive_file {GIB}\n",
        },
    )
    assert container_available_bytes(root) == 4 * GIB


@pytest.mark.parametrize(
    "files",
    [
        {"memory.max": "max\n", "memory.current": "1\n", "memory.stat": ""},
        {},  # no memory controller mounted
    ],
)
def test_no_limit_leaves_the_host_figure(tmp_path: Path, files: dict[str, str]) -> None:
    assert container_available_bytes(_write(tmp_path, files)) is None


def test_a_container_over_its_limit_has_nothing_left(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {"memory.max": f"{GIB}\n", "memory.current": f"{2 * GIB}\n", "memory.stat": ""},
    )
    assert container_available_bytes(root) == 0


def test_training_memory_is_measured_without_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where /proc has no VmHWM (macOS, Windows) the process's lifetime peak stands in."""
    monkeypatch.setattr(footprint, "_status_kib", lambda field: None)
    with footprint.PeakMemory() as peak:
        pass
    assert peak.bytes > 0
    assert footprint.available_bytes() > 0


#: `contextiq train` on generated data (docs/benchmarks.md, "Training memory against its
#: estimate"): users, items, events, and the peak resident memory (KiB, from /usr/bin/time)
#: less what the process held when it checked the estimate (KiB).
MEASURED = [
    (19_999, 20_000, 300_000, 2_677_144 - 330 * 1024),
    (199_127, 100_000, 1_000_000, 2_925_496 - 334 * 1024),
    (199_983, 100_000, 2_000_000, 3_237_996 - 334 * 1024),
    (200_000, 100_000, 5_000_000, 4_246_820 - 334 * 1024),
]


@pytest.mark.parametrize(("users", "items", "events", "added_kib"), MEASURED)
def test_the_estimate_stays_a_little_above_the_measured_peak(
    users: int, items: int, events: int, added_kib: int
) -> None:
    """The sum of every step's allocations said 5.5 GiB at 5,000,000 events for a peak 3.7
    GiB above the process's start: a worker sized by the measured peak refused the round."""
    needed = footprint.estimate(users, items, events).total
    assert 1.05 * added_kib * 1024 <= needed <= 1.2 * added_kib * 1024


def test_a_catalogue_of_a_million_items_counts_the_embeddings_training_instead_of_ease() -> None:
    """The steps run one after the other: the largest one counts, not both."""
    parts = footprint.estimate(1_000_000, 1_000_000, 5_000_000).parts
    assert parts["embedding"] == 1_000_000 * 200 * 4 * 8
    assert "EASE" not in parts
