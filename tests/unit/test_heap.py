"""The collector waits while a training builds, then collects once and freezes what stays."""

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from contextiq import heap
from tests.ml.test_heap import GLIBC, _resident_mb


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    # What earlier tests froze (an import, a training) may since have become garbage.
    gc.unfreeze()
    gc.collect()
    yield
    gc.unfreeze()  # the rest of the suite runs as it would have


def _cycle() -> weakref.ref[Node]:
    """A reference cycle nothing else holds: only a collection frees it."""
    cycle = Node()
    cycle.other = Node()
    cycle.other.other = cycle
    return weakref.ref(cycle)


def test_no_full_collection_while_building_then_one_that_frees_what_it_left() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with heap.building():
        assert gc.get_threshold()[2] == heap.NO_FULL_COLLECTION
        kept = [Node() for _ in range(1_000)]
        held = Node()
        held.other = Node()
        held.other.other = held
        gc.collect(1)  # `held` survives into the oldest generation, which waits
        survivor = weakref.ref(held)
        del held
        dropped = _cycle()
        gc.collect(1)
        assert dropped() is None  # young: freed by a young collection
        assert survivor() is not None  # old: left for the full collection
    assert gc.get_threshold() == before
    assert survivor() is None  # the full collection at the end frees it, not frozen
    assert gc.get_freeze_count() >= frozen + len(kept)  # what stays is never walked again


def test_young_collections_run_by_themselves_while_building() -> None:
    """A round's short-lived cycles are freed as it goes, not held until its end."""
    with heap.building():
        dropped = _cycle()
        churn = [[n] for n in range(50_000)]  # far more allocations than the first threshold
        assert dropped() is None
        del churn


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_what_a_build_freed_goes_back_to_the_system() -> None:
    """glibc keeps freed heap blocks below a live one: a worker held them after every round."""
    size = 4096  # above pymalloc's objects, below malloc's mmap threshold: the heap
    before = _resident_mb()
    with heap.building():
        blocks = [b"x" * size for _ in range(50_000)]  # 200 MB
        kept = b"y" * size  # above them: the heap cannot shrink from its top
        assert _resident_mb() > before + 150
        del blocks
    assert _resident_mb() < before + 50
    assert len(kept) == size


def test_overlapping_builds_hold_full_collections_until_the_last_ends() -> None:
    first_in, second_out = threading.Event(), threading.Event()

    def second() -> None:
        first_in.wait()
        with heap.building():
            pass
        second_out.set()

    thread = threading.Thread(target=second)
    thread.start()
    with heap.building():
        first_in.set()
        second_out.wait()
        assert gc.get_threshold()[2] == heap.NO_FULL_COLLECTION
    thread.join()
    assert gc.get_threshold()[2] != heap.NO_FULL_COLLECTION


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    try:
        with heap.building():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_parsing_process_never_walks_its_heap_yet_frees_young_cycles() -> None:
    before = gc.get_threshold()
    try:
        heap.young_collections_only()
        assert gc.get_threshold() == (before[0], before[1], heap.NO_FULL_COLLECTION)
        assert gc.get_freeze_count() > 0  # what it held at start is never walked
        dropped = _cycle()
        churn = [[n] for n in range(50_000)]  # far more allocations than the first threshold
        assert dropped() is None
        del churn
    finally:
        gc.set_threshold(*before)
