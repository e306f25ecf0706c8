"""Memory of a training: estimated before it starts, measured while it runs.

A training too large for the machine must say so at once, with the sizes involved, not
after minutes of work or by being killed. `estimate` is what the default blend's training
adds to the memory of the process that starts it, at its peak; `check_fits` compares that
with the memory the system (or the container's limit, or a configured one) has left.
`PeakMemory` measures the peak resident memory of the process during a training (Linux: the
VmHWM counter, reset at the start; elsewhere the process's lifetime peak).
"""

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import psutil

if TYPE_CHECKING:  # they bring PyTorch, which the CLI (naming `TrainingTooLarge`) need not load
    from contextiq.ml.ease import EaseConfig
    from contextiq.ml.embedding import EmbeddingConfig

GIB = 2**30
#: What the training holds per stored event at its peak: the event, the splits and
#: histories made of it, its entries in the sparse matrices and in the transitions' counts.
#: Measured 337 bytes (docs/benchmarks.md, "Training memory against its estimate").
BYTES_PER_EVENT = 340
#: Held beside the events at the peak, whatever their number: the candidate's fitted parts,
#: the libraries' buffers and what the heap kept of earlier steps. Measured 0.80 GiB at
#: 20,000 and at 100,000 items (less on small catalogues).
HELD_BYTES = int(0.8 * GIB)
#: EASE's solve per entry of its item-item matrix: the Gram matrix, its regularised copy,
#: their Cholesky factor and inverse, the weights (float64), measured 1.32 GiB at 6,000 items.
EASE_BYTES_PER_ENTRY = 40
#: Added to the sum of the parts: peaks move with what the heap keeps of earlier steps, and
#: `blend-next` peaked 0.3 GiB above the default blend at 5,000,000 events.
HEADROOM = 0.1


class TrainingTooLarge(MemoryError):
    """The estimated training does not fit in the memory available."""


@dataclass(frozen=True)
class Estimate:
    n_users: int
    n_items: int
    n_interactions: int
    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        sizes = ", ".join(f"{name} {size / GIB:.2f} GiB" for name, size in self.parts.items())
        return (
            f"{self.n_items:,} items, {self.n_users:,} users, {self.n_interactions:,}"
            f" interactions: about {self.total / GIB:.1f} GiB ({sizes})"
        )


def estimate(
    n_users: int,
    n_items: int,
    n_interactions: int,
    ease: "EaseConfig | None" = None,
    embedding: "EmbeddingConfig | None" = None,
) -> Estimate:
    """What training the default blend on data of this size adds to the process's memory.

    Its peak is its largest step, the EASE solve of the refit on every event (or, from about
    225,000 items, the embedding's training tables: weights, gradients, Adam's moments),
    with the events and what was made of them (`BYTES_PER_EVENT`) and `HELD_BYTES` held
    beside it. With `HEADROOM` the sum stays 10 % above the measured peaks from 300,000 to
    5,000,000 events (docs/benchmarks.md, "Training memory against its estimate"). The sum
    of every step's allocations used before counted 760 bytes per event, the transitions'
    counts apart, and steps that never run at once: 5.5 GiB at 5,000,000 events for a peak
    3.7 GiB above the start.
    """
    from contextiq.ml.ease import EaseConfig
    from contextiq.ml.embedding import EmbeddingConfig

    ease, embedding = ease or EaseConfig(), embedding or EmbeddingConfig()
    modelled = min(ease.max_items, n_items)
    tables = n_items * embedding.dim * 4 * 8  # two tables: weights, gradients, Adam, exports
    if n_items <= embedding.full_softmax_items:
        tables += embedding.batch_size * n_items * 4 * 8  # dense rows, logits and gradients
    solve = modelled * modelled * EASE_BYTES_PER_ENTRY
    parts = {
        "events": n_interactions * BYTES_PER_EVENT,
        "held": HELD_BYTES,
        **({"EASE": solve} if solve >= tables else {"embedding": tables}),
    }
    parts["headroom"] = int(sum(parts.values()) * HEADROOM)
    return Estimate(n_users, n_items, n_interactions, parts)


def available_bytes() -> int:
    """Memory the system can give without swapping (MemAvailable on Linux, psutil's figure
    elsewhere), and no more than the container's memory limit leaves
    (`container_available_bytes`)."""
    host = int(psutil.virtual_memory().available)
    container = container_available_bytes()
    return host if container is None else min(host, container)


CGROUP = Path("/sys/fs/cgroup")


def container_available_bytes(root: Path = CGROUP) -> int | None:
    """What this cgroup's memory limit leaves beyond the memory it holds and cannot drop
    (its inactive page cache it can), or None without a limit.

    In a container /proc/meminfo describes the whole node: a worker with a 4 GiB limit on a
    64 GiB node would start a training of 10 GiB and be OOM-killed in the middle of it.
    """
    if (root / "memory.max").exists():
        files = ("memory.max", "memory.current", "memory.stat")
        reclaimable = "inactive_file"
    else:  # cgroup v1; no limit reads as a number larger than any machine
        files = (
            "memory/memory.limit_in_bytes",
            "memory/memory.usage_in_bytes",
            "memory/memory.stat",
        )
        reclaimable = "total_inactive_file"
    try:
        limit, used, stat = ((root / name).read_text() for name in files)
        if limit.strip() == "max":
            return None
        fields = {key: value for key, value in (line.split() for line in stat.splitlines())}
        return max(0, int(limit) - int(used) + int(fields.get(reclaimable, "0")))
    except (OSError, ValueError):
        return None


def check_fits(needed: Estimate, limit_bytes: int = 0) -> None:
    """Raise `TrainingTooLarge` when the estimate exceeds the limit (0: what is available)."""
    available = available_bytes()
    budget = min(limit_bytes, available) if limit_bytes > 0 else available
    if needed.total > budget:
        why = "is allowed (CONTEXTIQ_TRAIN_MEMORY_LIMIT_MB)" if budget < available else "is free"
        raise TrainingTooLarge(
            f"training needs {needed.describe()}, but only {budget / GIB:.1f} GiB {why};"
            " a shorter CONTEXTIQ_TRAINING_WINDOW_DAYS learns from fewer events"
        )


def _status_kib(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _lifetime_peak_bytes() -> int:
    """The process's peak resident memory where /proc has no VmHWM. `resource` is POSIX
    only: imported at the top, it kept every `contextiq` command from starting on Windows."""
    if sys.platform == "win32":
        return int(psutil.Process().memory_info().peak_wset)
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class PeakMemory:
    """`with PeakMemory() as peak:` ... then `peak.bytes` and `peak.seconds`."""

    def __enter__(self) -> Self:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        self._started = time.perf_counter()
        self.seconds = 0.0
        self.bytes = 0
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self._started
        peak = _status_kib("VmHWM")
        self.bytes = _lifetime_peak_bytes() if peak is None else peak * 1024
