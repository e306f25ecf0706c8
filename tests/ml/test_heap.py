"""Training keeps large freed blocks on the heap, and gives them back when it ends."""

import platform
from pathlib import Path

import numpy as np
import pytest

from contextiq.ml import heap
from contextiq.ml.heap import reused_heap

GLIBC = platform.libc_ver()[0] == "glibc"


def _resident_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


@pytest.mark.skipif(not GLIBC, reason="the heap thresholds are glibc's; elsewhere nothing changes")
def test_blocks_freed_while_training_are_given_back_when_it_ends() -> None:
    before = _resident_mb()
    with reused_heap():
        for _ in range(3):  # what a training step does: a large block, filled, then freed
            block = np.ones(300 * 2**20 // 8)
            del block
        kept = _resident_mb()
    after = _resident_mb()
    assert kept > before + 200  # kept for the next step, not unmapped
    assert after < before + 50


def test_without_glibc_the_body_runs_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    with reused_heap():
        total = float(np.ones(1000).sum())
    assert total == 1000.0
