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

from contextiq.ml.heap import give_back

_lock = threading.Lock()
_builds = 0
_thresholds = gc.get_threshold()
#: The oldest generation's threshold while a block builds: never reached.
NO_FULL_COLLECTION = 2**31 - 1


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


def young_collections_only() -> None:
    """For a process that lives to turn one batch after another into short-lived objects (an
    import's parsing processes): what it holds at start frozen, and no full collection ever
    after. Reference counting frees each batch once it is handed back; young collections free
    the few short-lived cycles. Full collections cost up to a quarter of such a process's CPU
    (docs/benchmarks.md, "Import at scale")."""
    settle()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NO_FULL_COLLECTION)


@contextmanager
def building() -> Iterator[None]:
    """No full collection while the block builds (training: millions of objects, each full
    pass longer than the last); then one, `settle`, which also frees what the block replaced
    (a model from before it), and what survives is frozen, never walked again. What was freed
    then goes back to the system (`ml.heap.give_back`): glibc kept it, 574 MiB after a round
    at 300,000 events and 849 MiB after a second one at 5,000,000, held by a worker until
    its next round (docs/benchmarks.md, "Memory after a round").

    Young collections go on: they walk only what was made since the last one, and they free
    the block's short-lived reference cycles, which with the collector off held 0.8 GB more
    at the peak of a 5,000,000-event training (docs/benchmarks.md, "Training beside the
    event loop"). Blocks may nest or overlap (threads): the last one out collects and puts
    the thresholds back.
    """
    global _builds, _thresholds
    with _lock:
        if _builds == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(_thresholds[0], _thresholds[1], NO_FULL_COLLECTION)
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0:
                gc.set_threshold(*_thresholds)
                settle()
                give_back()
