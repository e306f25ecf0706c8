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
