"""When a changed path becomes safe to read: PendingPaths with a fake clock."""

import pytest

from watchdog.events import (DirCreatedEvent, FileClosedEvent, FileCreatedEvent, FileDeletedEvent, FileModifiedEvent,
                             FileMovedEvent)

from feedd.watch import PendingPaths, SeedEventHandler


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_closed_file_is_ready_after_the_settle_time():
    clock = Clock()
    pending = PendingPaths(settle=0.2, write_timeout=5, clock=clock)
    pending.touch("a.txt", complete=False)
    pending.touch("a.txt", complete=True)
    assert pending.take_ready() == [] and pending.next_ready_in() == pytest.approx(0.2)
    clock.now += 0.1
    assert pending.take_ready() == []
    clock.now += 0.15
    assert pending.take_ready() == ["a.txt"]
    assert pending.take_ready() == [] and pending.next_ready_in() is None


def test_a_file_still_open_waits_for_its_close_or_the_timeout():
    clock = Clock()
    pending = PendingPaths(settle=0.2, write_timeout=5, clock=clock)
    pending.touch("slow.txt", complete=False)
    for _ in range(10):  # a writer adding a chunk every 0.4 s
        clock.now += 0.4
        assert pending.take_ready() == []
        pending.touch("slow.txt", complete=False)
    clock.now += 4.9
    assert pending.take_ready() == []
    clock.now += 0.15
    assert pending.take_ready() == ["slow.txt"]


def test_a_burst_is_given_whole_unless_it_goes_on_too_long():
    """A ready file waits for the others still being written (a folder copied in), at most
    ``burst_wait``: one change for the burst, and a steady stream still flows."""
    clock = Clock()
    pending = PendingPaths(settle=0.05, write_timeout=5, clock=clock, burst_wait=0.5)
    pending.touch("a.txt", complete=True)
    clock.now += 0.04
    pending.touch("b.txt", complete=False)  # being written
    clock.now += 0.06
    assert pending.take_ready() == [] and pending.next_ready_in() == pytest.approx(0.45)
    pending.touch("b.txt", complete=True)
    assert pending.next_ready_in() == pytest.approx(0.05)
    clock.now += 0.05
    assert pending.take_ready() == ["a.txt", "b.txt"] and pending.next_ready_in() is None
    pending.touch("slow.txt", complete=False)  # a writer that keeps its file open
    pending.touch("c.txt", complete=True)
    clock.now += 0.5
    assert pending.take_ready() == [] and pending.next_ready_in() == pytest.approx(0.05)
    clock.now += 0.05
    assert pending.take_ready() == ["c.txt"] and pending.busy() == {"slow.txt"}


def test_busy_lists_what_is_not_ready():
    clock = Clock()
    pending = PendingPaths(settle=0.2, write_timeout=5, clock=clock)
    pending.touch("a.txt", complete=False)
    pending.touch("b.txt", complete=True)
    assert pending.busy() == {"a.txt", "b.txt"} and len(pending) == 2


def test_events_become_seed_paths(tmp_path):
    seeds = tmp_path / "seeds"
    pending = PendingPaths(settle=0, write_timeout=0)
    woken = []
    handler = SeedEventHandler(seeds, pending, lambda: woken.append(1))
    handler.dispatch(FileCreatedEvent(str(seeds / "a.txt")))
    handler.dispatch(FileModifiedEvent(str(seeds / "sub" / "b.md")))
    handler.dispatch(FileClosedEvent(str(seeds / "sub" / "b.md")))
    handler.dispatch(FileMovedEvent(str(seeds / "c.txt"), str(seeds / "d" / "e.txt")))
    handler.dispatch(FileMovedEvent(str(tmp_path / "elsewhere.txt"), str(seeds / "in.txt")))
    handler.dispatch(FileDeletedEvent(str(seeds / "gone.txt")))
    handler.dispatch(DirCreatedEvent(str(seeds / "newdir")))
    for ignored in (".hidden.txt", "a.txt~", "x.swp", ".#a.txt", "notes.doc", ".git/x.txt"):
        handler.dispatch(FileCreatedEvent(str(seeds / ignored)))
    assert pending.take_ready() == ["a.txt", "c.txt", "d/e.txt", "gone.txt", "in.txt", "newdir", "sub/b.md"]
    assert len(woken) == 7
