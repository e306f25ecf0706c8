"""Large tensors freed at every training step are kept for the next one (glibc only).

A step of the sequential network allocates tensors of hundreds of MB (a full softmax's
logits: 6,400 positions x 9,742 items on latest-small) and frees them at the end of the
step. glibc serves any block above its mmap threshold (at most 32 MB, however it adapts)
with a fresh mapping and unmaps it on free, so every step faults every page in again: the
kernel's share was 37 % of a `blend-next` fit's CPU time (docs/benchmarks.md, "Training
step memory"). Inside `reused_heap` such blocks come from the heap and stay there for the
next step; on leaving, the thresholds take the values glibc's own adaptation tops out at
(32 MB to map, 64 MB to trim) and the free heap goes back to the system (`malloc_trim`), so
a process keeps no more memory after training than before. Elsewhere it does nothing.
"""

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: While training: map only blocks of a GiB or more, never trim.
_TRAINING = {_M_MMAP_THRESHOLD: 1 << 30, _M_TRIM_THRESHOLD: 2**31 - 1}
#: Afterwards: where glibc's dynamic thresholds end up after large blocks were freed.
_AFTER = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 64 << 20}


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL("libc.so.6")


@contextmanager
def reused_heap() -> Iterator[None]:
    """Keep freed large blocks on the heap while the body runs (a training loop)."""
    libc = _glibc()
    if libc is None:
        yield
        return
    for option, value in _TRAINING.items():
        libc.mallopt(option, value)
    try:
        yield
    finally:
        for option, value in _AFTER.items():
            libc.mallopt(option, value)
        give_back()


def give_back() -> None:
    """Return the free memory of every malloc arena to the system (glibc; elsewhere nothing).

    What a training freed stays with the process otherwise: glibc gives back only a free
    block at the top of an arena, and a training's millions of small objects and its
    threads' arenas leave free pages below live ones, which a long-lived worker would then
    hold, and its memory limit carry, until the next round.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
