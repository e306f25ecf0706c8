"""The collector waits while a training builds, then collects once and freezes what stays."""

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from contextiq import heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the suite runs as it would have


def test_no_collection_while_building_then_one_that_frees_what_it_left() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with heap.building():
        assert not gc.isenabled()
        kept = [Node() for _ in range(1_000)]
        cycle = Node()
        cycle.other = Node()
        cycle.other.other = cycle
        dropped = weakref.ref(cycle)
        del cycle
    assert gc.isenabled()
    assert dropped() is None  # garbage of the build is collected, not frozen with the rest
    assert gc.get_freeze_count() >= frozen + len(kept)  # what stays is never walked again


def test_overlapping_builds_keep_the_collector_off_until_the_last_ends() -> None:
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
        assert not gc.isenabled()
    thread.join()
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    try:
        with heap.building():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
