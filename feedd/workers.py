"""Worker processes for the per-document work of a big batch: reading seed files, rendering article pages.

One per core (at most eight), and only for a batch big enough to pay for them.
Fork where the caller has no other thread (``feedd build``): the workers start
at once and share what the parent loaded (the language model, the
templates). A process with threads (the daemon) must not fork itself: its
workers are forked from a server process that imported feedd once
(multiprocessing's forkserver, started ahead by :func:`start_server`), not
spawned, which would import it again for every batch (about a second of
each worker's time). Workers die with their parent (Linux: PR_SET_PDEATHSIG),
and the server with the daemon, so a killed build or daemon leaves none behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future

# This many items or more, and workers pay (bench/build.py: 1.8x on 2 cores).
PARALLEL_MIN = 64


class Workers:
    """``map`` over worker processes when the batch is big enough, in this process otherwise."""

    def __init__(self, items: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()):
        self.pool = None
        count = min(os.cpu_count() or 1, 8)
        if count > 1 and items >= PARALLEL_MIN:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(count, mp_context=_context(), initializer=_start,
                                            initargs=(initializer, initargs))

    def map(self, function: Callable, *iterables: Iterable) -> Iterator:
        """Results in order; with workers, the work starts now and runs while the caller goes on."""
        columns = [list(items) for items in iterables]
        if self.pool is None or len(columns[0]) < 2:
            return map(function, *columns)
        return self.pool.map(function, *columns, chunksize=max(1, len(columns[0]) // 16))

    def submit(self, function: Callable, items: list) -> Future:
        """``[function(item) for item in items]`` in a worker, while the caller goes on; without
        workers, done here and now."""
        if self.pool is not None:
            return self.pool.submit(_each, function, items)
        done: Future = Future()
        try:
            done.set_result([function(item) for item in items])
        except Exception as exc:
            done.set_exception(exc)
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _each(function: Callable, items: list) -> list:
    return [function(item) for item in items]


# What the forkserver imports once, for its workers: the stages they run, and what they load (feedd.preload).
PRELOAD = ["feedd.reconcile", "feedd.publish", "feedd.preload"]


def _context():
    import multiprocessing

    return multiprocessing.get_context("fork") if threading.active_count() == 1 else _forkserver()


def _forkserver():
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def apart(function: Callable, *args) -> Future:
    """``function(*args)`` in a worker process of its own, forked from the forkserver: work that
    holds the interpreter for seconds (the start-up's scan) without holding up this process's
    threads, which would wait on it each time they come back from the disk."""
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(1, mp_context=_forkserver(), initializer=_start, initargs=(None, ()))
    try:
        return pool.submit(function, *args)
    finally:
        pool.shutdown(wait=False)  # the worker exits once its one call is done


def start_server() -> None:
    """Start the forkserver now (a daemon's start-up) rather than at the first big batch:
    its imports cost its own process a second or so."""
    from multiprocessing import forkserver

    _forkserver()
    forkserver.ensure_running()


def _start(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    _die_with_parent()
    if initializer is not None:
        initializer(*initargs)


def _die_with_parent() -> None:
    """A worker must not outlive a killed ``feedd build`` or daemon.

    Its parent in the system's eyes gets it killed by dying (Linux: PR_SET_PDEATHSIG); a
    forkserver's worker is also watched for the death of the process that asked for it, which
    is not its parent: left waiting for work from a daemon killed in the meantime, it would
    live on, and keep the forkserver alive with it (it holds the server's lifeline open).
    """
    import multiprocessing
    from multiprocessing.connection import wait

    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    asker = multiprocessing.parent_process()
    if asker is not None and asker.pid != os.getppid():
        threading.Thread(target=lambda: (wait([asker.sentinel]), os._exit(1)), name="feedd-asker-gone",
                         daemon=True).start()
