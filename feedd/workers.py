"""Worker processes for the per-document work of a big batch: reading seed files, rendering article pages.

One per core (at most eight), and only for a batch big enough to pay for them.
Fork where the caller has no other thread (``feedd build``): the workers start
at once and share what the parent loaded (the language model, the
templates). A daemon has threads, so its workers are spawned, which costs a
second or so of start-up. Workers die with
their parent (Linux: PR_SET_PDEATHSIG), so a killed build leaves none behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator

# This many items or more, and workers pay (bench/build.py: 1.8x on 2 cores).
PARALLEL_MIN = 64


class Workers:
    """``map`` over worker processes when the batch is big enough, in this process otherwise."""

    def __init__(self, items: int, initializer: Callable[..., None] | None = None, initargs: tuple = (),
                 spawn_min: int = PARALLEL_MIN):
        """``spawn_min``: the batch that pays for spawned workers, for work that is cheap per item."""
        self.pool = None
        count = min(os.cpu_count() or 1, 8)
        method = "fork" if threading.active_count() == 1 else "spawn"
        if count > 1 and items >= (PARALLEL_MIN if method == "fork" else max(spawn_min, PARALLEL_MIN)):
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context(method),
                                            initializer=_start, initargs=(initializer, initargs))

    def map(self, function: Callable, *iterables: Iterable) -> Iterator:
        """Results in order; with workers, the work starts now and runs while the caller goes on."""
        columns = [list(items) for items in iterables]
        if self.pool is None or len(columns[0]) < 2:
            return map(function, *columns)
        return self.pool.map(function, *columns, chunksize=max(1, len(columns[0]) // 16))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _start(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    _die_with_parent()
    if initializer is not None:
        initializer(*initargs)


def _die_with_parent() -> None:
    """A worker must not outlive a killed ``feedd build`` (Linux: PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
