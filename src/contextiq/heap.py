"""When the garbage collector runs, in a process that holds millions of long-lived objects.

A full collection walks every tracked object while holding the GIL, so every request (and
Kafka heartbeat) of the process waits for it: about 340 ms at 100,000 items for the serving
heap alone, and seconds, again and again, while a training builds millions of objects
(docs/benchmarks.md, "Training beside the event loop").
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_builds = 0
_enable_after = False


def settle() -> None:
    """Put what the process now holds for good out of the collector's reach.

    A serving process at 100,000 items tracks about 450,000 objects (libraries, the model,
    a `Content` per catalogue item in its filter columns), and every full collection walked
    them all, stalling every request of the process for about 340 ms: the paced p99's source
    (docs/benchmarks.md). Frozen (`gc.freeze`), they are never walked; what the process
    creates later still is. Called again after a model swap: first unfrozen and collected
    (one such stall per swap), or the replaced model's objects in reference cycles could
    never be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@contextmanager
def building() -> Iterator[None]:
    """No collection while the block builds (training: millions of objects, each collection
    longer than the last); then one, `settle`, which also frees what the block replaced (a
    model from before it), and what survives is frozen, never walked again.

    Blocks may nest or overlap (threads): the last one out collects and enables the
    collector again, unless it was off before the first.
    """
    global _builds, _enable_after
    with _lock:
        if _builds == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0:
                settle()
                if _enable_after:
                    gc.enable()
