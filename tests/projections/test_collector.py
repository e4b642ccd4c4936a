"""The garbage collector's pause for far-behind catch-ups (projections/collector.py)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from projections import collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_a_pause_turns_automatic_collection_off_and_back_on() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled() and collector.pausing()
        with collector.paused():  # nested: one pause
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled() and not collector.pausing()


def test_the_collector_resumes_when_the_last_of_several_threads_is_done() -> None:
    first_in, second_done, first_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector.paused():
            first_in.set()
            first_may_leave.wait(5)

    def second() -> None:
        first_in.wait(5)
        with collector.paused():
            pass
        seen.append(gc.isenabled())  # the first thread still pauses it
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    second_done.wait(5)
    first_may_leave.set()
    for t in threads:
        t.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_already_off_stays_off_after_a_pause() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_after_a_batch_cycles_are_collected_once_they_pile_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "YOUNG_LIMIT", 1000)
    with collector.paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # paused: nothing collects it by itself
        more = [Node() for _ in range(2000)]  # the young generation grows past the limit
        collector.after_batch()
        assert gone() is None
        del more
