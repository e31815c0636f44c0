"""Watch ``seeds/``: turn file events into paths that are safe to read.

The watchdog handler only records paths (it runs on the observer's thread,
and a slow handler would hold up every later event). :class:`PendingPaths`
decides when a path may be read: after the writer closed it and a short
settle time passed, or after a longer quiet spell when no close is ever seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEvent,
                             FileSystemEventHandler)
from watchdog.observers import Observer

from .scan import is_seed_name

log = logging.getLogger(__name__)

EVENTS = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
          DirCreatedEvent, DirMovedEvent, DirDeletedEvent]


class PendingPaths:
    """Paths seen changing, and when each becomes safe to read (thread-safe)."""

    def __init__(self, settle: float, write_timeout: float, clock: Callable[[], float] = time.monotonic,
                 burst_wait: float = 0.0):
        """``burst_wait``: how long a ready path may wait for others still being written, so that a
        burst (a folder copied in) is read and published as one change, not as its first few files
        and then the rest."""
        self.settle = settle
        self.write_timeout = max(write_timeout, settle)
        self.burst_wait = burst_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._paths: dict[str, tuple[float, bool]] = {}  # path -> (last event, complete?)
        self._since: set[str] | None = None  # while tracked: every path touched

    def touch(self, path: str, complete: bool) -> None:
        """``complete``: closed after writing, moved in, deleted; else still being written."""
        with self._lock:
            self._paths[path] = (self._clock(), complete)
            if self._since is not None:
                self._since.add(path)

    def track(self) -> None:
        """Remember every path touched from now on (drained or not), until :meth:`untrack`."""
        with self._lock:
            self._since = set()

    def untrack(self) -> set[str]:
        """The paths touched since :meth:`track`; tracking stops."""
        with self._lock:
            since, self._since = self._since or set(), None
        return since

    def take_ready(self) -> list[str]:
        now = self._clock()
        with self._lock:
            released = self._released()
            if released is None or now < released:
                return []
            ready = [p for p, (seen, complete) in self._paths.items() if now >= self._due(seen, complete)]
            for path in ready:
                del self._paths[path]
        return sorted(ready)

    def next_ready_in(self) -> float | None:
        """Seconds until :meth:`take_ready` has paths to give (0 if it has), None if none is pending."""
        now = self._clock()
        with self._lock:
            released = self._released()
        return None if released is None else max(0.0, released - now)

    def _released(self) -> float | None:
        """When the ready paths are given: once every path is ready, or ``burst_wait`` after the first."""
        due = [self._due(seen, complete) for seen, complete in self._paths.values()]
        return min(max(due), min(due) + self.burst_wait) if due else None

    def busy(self) -> set[str]:
        with self._lock:
            return set(self._paths)

    def __len__(self) -> int:
        with self._lock:
            return len(self._paths)

    def _due(self, seen: float, complete: bool) -> float:
        """When a path seen changing at ``seen`` is safe to read: after the settle wait once its
        writer closed it, after the write timeout otherwise."""
        return seen + (self.settle if complete else self.write_timeout)


class SeedEventHandler(FileSystemEventHandler):
    """Records the seed paths an event touches, then calls ``wake``."""

    def __init__(self, seeds: Path, pending: PendingPaths, wake: Callable[[], None]):
        self.seeds = Path(seeds).absolute()
        self.pending = pending
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            touched = list(self._paths(event))
        except Exception:  # a handler must never kill the observer thread
            log.exception("watch: cannot handle %r", event)
            return
        for path, complete in touched:
            self.pending.touch(path, complete)
        if touched:
            self.wake()

    def _paths(self, event: FileSystemEvent):
        # A modification means a writer has the file open: wait for its close.
        # A bare creation may be a file renamed in from a folder we do not
        # watch (no close will come); if a write follows, the next event says so.
        sources = [(event.src_path, event.event_type != "modified")]
        if event.event_type == "moved":
            sources = [(event.src_path, True), (event.dest_path, True)]
        for raw, complete in sources:
            path = self._relative(raw, event.is_directory)
            if path:
                yield path, complete

    def _relative(self, raw, is_directory: bool) -> str | None:
        name = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        try:
            parts = Path(name).relative_to(self.seeds).parts
        except ValueError:
            return None  # moved out of seeds/, seen from outside
        if not parts or any(p.startswith(".") for p in parts):
            return None
        if not is_directory and not is_seed_name(parts[-1]):
            return None
        return "/".join(parts)


class _OverflowAlarm(logging.Filter):
    """watchdog only logs an inotify queue overflow; turn that line into a call."""

    def __init__(self, on_overflow: Callable[[], None]):
        super().__init__()
        self.on_overflow = on_overflow

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Inotify queue overflowed"):
            self.on_overflow()
        return True


class Watcher:
    """watchdog's observer over ``seeds/``, recursive."""

    OVERFLOW_LOGGER = "watchdog.observers.inotify_c"

    def __init__(self, seeds: Path, pending: PendingPaths, wake: Callable[[], None],
                 on_overflow: Callable[[], None] | None = None):
        seeds.mkdir(parents=True, exist_ok=True)
        self._observer = Observer()
        self._observer.name = "feedd-watch"
        self._observer.schedule(SeedEventHandler(seeds, pending, wake), str(seeds), recursive=True,
                                event_filter=EVENTS)
        self._alarm = _OverflowAlarm(on_overflow) if on_overflow else None

    def start(self) -> None:
        if self._alarm:
            logging.getLogger(self.OVERFLOW_LOGGER).addFilter(self._alarm)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
        if self._alarm:
            logging.getLogger(self.OVERFLOW_LOGGER).removeFilter(self._alarm)
