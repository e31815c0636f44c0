"""``feedd run``: the long-running service, a thin shell around the pipeline.

Threads and their jobs:

- main: signals, the systemd notify protocol, reloads, and scheduling the drain
  of paths the watcher recorded; waits on an event.
- watcher (watchdog): records changed paths in :class:`PendingPaths` and wakes
  the main thread; nothing else (it never calls the scheduler).
- worker (APScheduler, one thread): the only user of the index and the only
  writer of ``feeds/``; runs the drain of pending paths, the periodic
  reconciliation, embargo lifts and publish retries, one at a time.
- scan (at start-up only): waits for a worker process to walk ``seeds/``
  while the worker thread already reads drops, then hands what it found to
  the worker's catch-up.
- http (aiohttp): serves ``feeds/`` read-only.
- websub (one per configured hub): tells the hub which feeds changed.

Lifecycle as in uvicorn: startup, main loop, shutdown in reverse order.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from .config import Config, ConfigError, load_config
from .index import Index
from . import language, render
from .notify import Notifier
from .publish import (PublishPlan, libc, owe, publish, remove_stale_temp_files, settle, settled_at,
                      writer_threads)
from .reconcile import Survey, SyncReport, matcher, survey, sync
from .render import RenderMemo
from .scan import SeedFile, scan_packed, unpack
from .serve import FeedServer
from .watch import PendingPaths, Watcher
from .websub import Hubs, changed_feed_urls
from .workers import apart, start_server

log = logging.getLogger(__name__)

ALL_FEED_FILE = "all.atom"
TRIM_AFTER = 50  # paths in one change after which the heap's free memory is given back
JOIN_AFTER = 50  # paths in one change after which those that became ready while it was read join it
# A ready file waits at most this long for others still being written: a folder copied in is
# one change, not its first few files published on their own (a publish of every feed) and then the rest.
BURST_WAIT_SECONDS = 0.5

RETRY_SECONDS = 5.0
STOP_POLL_SECONDS = 0.1  # how often a thread waiting on a worker looks at the stop flag
OVERFLOW_RECONCILE_DELAY = 1.0  # let the burst that overflowed the queue finish first
SHUTDOWN_SECONDS = 4.0


@dataclasses.dataclass
class Health:
    """What ``/healthz`` and systemd's STATUS= report; replaced whole, never mutated."""

    documents: int = 0
    embargoed: int = 0
    rejected: int = 0
    drafts: int = 0
    pending: int = 0
    last_build: str | None = None
    last_error: str | None = None
    rejected_files: list[dict] = dataclasses.field(default_factory=list)  # the first 100, with reasons
    draft_files: list[dict] = dataclasses.field(default_factory=list)  # the first 100, with their markers
    last_change_ms: float | None = None  # work for the last change seen: read, index, render, write
    started: float = dataclasses.field(default_factory=time.monotonic)

    def as_json(self) -> dict:
        body = dataclasses.asdict(self)
        body["uptime_seconds"] = round(time.monotonic() - body.pop("started"), 3)
        body["status"] = "ok" if self.last_error is None else "degraded"
        return body

    def status_line(self) -> str:
        line = f"{self.documents} documents, {self.rejected} rejected, {self.drafts} drafts"
        if self.last_build:
            line += f", last build {self.last_build}"
        return line + (f"; error: {self.last_error}" if self.last_error else "")


def give_back_memory() -> None:
    """Return the C heap's free pages to the system: after a burst, glibc keeps them resident."""
    trim = getattr(libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Daemon:
    def __init__(self, config: Config, config_path: Path | None = None, notifier: Notifier | None = None):
        self.config = config
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.health = Health()
        self.pending = PendingPaths(config.daemon.settle_seconds, config.daemon.write_timeout_seconds,
                                    burst_wait=BURST_WAIT_SECONDS)
        self.server: FeedServer | None = None
        self.hubs: Hubs | None = None
        self._index: Index | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._watcher: Watcher | None = None
        self.plan = PublishPlan()  # what feeds/ is owed; kept until a publish succeeds
        self.memo = RenderMemo()  # rendered entries and list items, reused from one publish to the next
        self.threads = writer_threads()  # the writer's, kept from one publish to the next (none start until used)
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._paths_seen = threading.Event()  # the watcher recorded paths: schedule their drain
        self._overflowed = threading.Event()  # the watcher lost events: reconcile
        self._drain_lock = threading.Lock()
        self._job_lock = threading.Lock()  # held by the job in flight
        self._drain_due: float | None = None
        self._embargo_checked = utcnow()
        self._scanner: threading.Thread | None = None
        self._caught_up = False  # the start-up's reconciliation is done: a publish may settle

    # -- lifecycle ----------------------------------------------------------------

    def run(self) -> int:
        # Before anything else, and refused in one line: another feedd may be publishing this project.
        self._index = Index(self.config.index_path, shared=True, writer=True)
        self._install_signal_handlers()
        try:
            self.startup()
            self.main_loop()
        finally:
            self.shutdown()
        return 0

    def startup(self) -> None:
        """Watch, serve what the last run left, then catch up with seeds/ without holding up drops:
        the scan runs in a worker process (seconds at 100,000 files) while the worker thread reads
        what the watcher reports; the catch-up follows on the worker thread (:meth:`_catch_up`)."""
        config = self.config
        config.feeds_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(config.feeds_dir)
        self.hubs = Hubs(config.websub)
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 3, "misfire_grace_time": None},
            timezone=timezone.utc,
        )
        # Watch first, so nothing written during the start-up reconciliation is missed: what the
        # watcher reports from here on is the drains' to read, not the catch-up's.
        self.pending.track()
        self._watcher = Watcher(config.seeds_dir, self.pending, self._on_paths, self._on_overflow)
        self._watcher.start()
        # feeds/ from the last run is whole (every write was atomic): serve it at
        # once, as nginx in front would, while catching up with what changed.
        published_before = (config.feeds_dir / ALL_FEED_FILE).is_file()
        if published_before:
            self._start_server()
        start_server()  # the process big batches' workers are forked from
        # feeds/ showed the whole index when the last run stopped: publish what changed since,
        # not everything (at 100,000 documents that takes half a minute, and drops wait on it).
        settled = settled_at(self._index, config) if published_before else None
        self._scheduler.start()  # from here on only the worker uses the index
        self._scheduler.add_job(self._guarded(self._warm_up), id="warm-up")
        self._schedule_drain()
        self._scanner = threading.Thread(target=self._scan, args=(settled,), name="feedd-scan", daemon=True)
        self._scanner.start()

    def _warm_up(self) -> None:
        """Load now, on the worker thread, what the first drop would otherwise wait for (half a
        second): the language model, the rules compiled for the index's languages with their
        words' inflections, the page templates."""
        language.warm_up()
        for lang in sorted({feed.lang for feed in self._index.feeds() if feed.lang}):
            matcher(self.config, lang)
        render.warm_up()

    def _scan(self, settled: datetime | None) -> None:
        """On its own thread: seeds/ as it is now, scanned and compared with the index in a worker
        process (:func:`feedd.reconcile.survey`: at 100,000 files, seconds of the interpreter that
        drops read meanwhile would wait on), and handed to the worker's catch-up."""
        log.info("reconciling %s with the index", self.config.seeds_dir)
        started = time.perf_counter()
        try:
            scanning = apart(survey, self.config.seeds_dir, self.config.index_path)
            while True:
                try:
                    found = scanning.result(timeout=STOP_POLL_SECONDS)
                    break
                except FutureTimeout:
                    if self._stop.is_set():
                        return  # the worker finishes its scan and exits (or goes with the daemon)
        except Exception as exc:  # no worker to be had: scan here, and compare in the catch-up
            log.warning("scanning %s in this process (%s)", self.config.seeds_dir, exc)
            found = Survey(scan_packed(self.config.seeds_dir), None)
        log.info("found %d seed files in %.1f s%s", found.packed.count("\0") // 3, time.perf_counter() - started,
                 "" if found.changed is None else f", {len(found.changed)} changed")
        try:
            self._scheduler.add_job(self._guarded(self._catch_up), args=[found, settled], id="catch-up")
        except SchedulerNotRunningError:
            pass  # stopping

    def _catch_up(self, found: Survey | None, settled: datetime | None) -> None:
        """The start-up reconciliation, from the scan (None: scan now): what changed while stopped.
        The paths the watcher saw since the scan began are the drains' (read already, or about to be)."""
        started = time.perf_counter()
        try:
            self._reconcile(full_publish=settled is None, scanned=None if found is None else unpack(found.packed),
                            paths=None if found is None else found.changed, since=self.pending.untrack())
        except Exception as exc:  # the index unwritable, say: try again later, from a scan of its own
            self._fail(exc)
            if not self._stop.is_set():
                self._scheduler.add_job(self._guarded(self._catch_up), "date", args=[None, settled],
                                        run_date=utcnow() + timedelta(seconds=RETRY_SECONDS), id="catch-up")
            return
        if self._stop.is_set():
            return
        self._caught_up = True  # feeds/ shows the whole index once this publish is done: it settles
        if settled is not None:
            self._embargo_checked = settled
            self._lift_embargo()  # documents whose date came while it was stopped
            if self.health.last_build is None:  # nothing to publish: feeds/ is as the last run left it
                self.health = dataclasses.replace(self.health, last_build=settled.isoformat(timespec="seconds"))
        else:
            self._publish()
        give_back_memory()  # what the catching up took
        if self.server is None:
            self._start_server()  # a first run: serve once there is something to serve
        rescan = self.config.daemon.rescan_seconds
        self._scheduler.add_job(self._guarded(self._reconcile), "interval", seconds=rescan,
                                jitter=rescan * 0.1, id="reconcile")
        log.info("caught up in %.1f s", time.perf_counter() - started)
        self.notifier.ready(self.health.status_line())

    def _start_server(self) -> None:
        config = self.config
        self.server = FeedServer(config.feeds_dir, config.server.host, config.server.port,
                                 health=self._health_json,
                                 max_age=config.server.max_age, archive_max_age=config.server.archive_max_age)
        self.server.start()
        log.info("serving %s (everything: %s%s)", self.server.url, self.server.url, ALL_FEED_FILE)

    def _health_json(self) -> dict:
        body = {**self.health.as_json(), "pending": len(self.pending)}
        if self.hubs:
            body["websub"] = self.hubs.stats()
        return body

    def main_loop(self) -> None:
        period = self.notifier.watchdog_seconds
        interval = min(period / 2, 1.0) if period else 1.0
        while not self._stop.is_set():
            self._wakeup.wait(interval)
            self._wakeup.clear()
            if self._reload.is_set():
                self._reload.clear()
                self._reload_config()
            if self._paths_seen.is_set():
                self._paths_seen.clear()
                self._schedule_drain()
            if self._overflowed.is_set():
                self._overflowed.clear()
                self._reconcile_soon()
            if period and self._scheduler and self._scheduler.running:
                self.notifier.watchdog()

    def shutdown(self) -> None:
        self.notifier.stopping()
        self._stop.set()
        if self._scanner:
            self._scanner.join(timeout=SHUTDOWN_SECONDS)  # it looks at the stop flag every STOP_POLL_SECONDS
        if self._watcher:
            self._watcher.stop()
        if self._scheduler and self._scheduler.running:
            # Not shutdown(wait=True): it holds the job store's lock while it waits,
            # and a running job that schedules its successor would deadlock on it.
            self._scheduler.shutdown(wait=False)
        # Wait for the job in flight (it stops between batches); jobs still
        # queued behind it see the stop flag and return at once.
        if self._job_lock.acquire(timeout=SHUTDOWN_SECONDS):
            self._job_lock.release()
        else:
            log.warning("a job is still running; stopping anyway (the next start reconciles)")
        self.threads.shutdown(wait=True)
        if self.server:
            self.server.stop()
        if self.hubs:
            self.hubs.wait(SHUTDOWN_SECONDS / 2)  # notifications under way; retries are given up
            self.hubs.close()
        if self._index:
            self._index.close()
        self.notifier.close()
        log.info("stopped")

    def request_stop(self) -> None:
        self._stop.set()
        self._wakeup.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum, frame):
            self.request_stop()

        def reload(signum, frame):
            self._reload.set()
            self._wakeup.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # -- jobs, all on the worker thread ------------------------------------------------

    def _guarded(self, job):
        """Jobs never die of an error: log it, report it in /healthz, carry on."""

        def run(*args, **kwargs):
            with self._job_lock:
                if self._stop.is_set():
                    return None
                try:
                    return job(*args, **kwargs)
                except Exception as exc:
                    self._fail(exc)
        run.__name__ = job.__name__
        return run

    def _drain(self) -> None:
        with self._drain_lock:
            self._drain_due = None
        ready = self.pending.take_ready()
        if ready:
            started = time.perf_counter()
            owe(self._index)
            report = self._sync(ready)
            # The rest of a burst, written while its first part was read: one publish for both,
            # not one more of every feed it touches (once: a steady stream must still be published).
            if len(ready) >= JOIN_AFTER and (more := self.pending.take_ready()):
                report.add(self._sync(more))
                ready += more
            synced = time.perf_counter()
            written = self._publish(report)
            done = time.perf_counter()
            # The work a change costs, measured here (bench/scale.py reads it): not the settle wait.
            log.info("change of %d path%s: %.1f ms (sync %.1f, publish %.1f), %d files written: %s",
                     len(ready), "" if len(ready) == 1 else "s", (done - started) * 1000, (synced - started) * 1000,
                     (done - synced) * 1000, len(written), ", ".join(written[:12]) + (" …" if len(written) > 12 else ""))
            self.health = dataclasses.replace(self.health, last_change_ms=round((done - started) * 1000, 1))
            if len(ready) >= TRIM_AFTER:
                give_back_memory()
        self._schedule_drain()

    def _sync(self, paths: list[str]) -> SyncReport:
        return sync(self.config, self._index, utcnow(), paths=paths, busy=self.pending.busy(), cancel=self._stop)

    def _reconcile(self, full_publish: bool = False, scanned: Iterable[SeedFile] | None = None,
                   paths: Iterable[str] | None = None, since: set[str] = frozenset()) -> None:
        """Catch up with everything the watcher did not report (or missed); ``paths``: what a survey
        found changed, when only those need looking at."""
        owe(self._index)
        report = sync(self.config, self._index, utcnow(), paths=paths, busy=self.pending.busy() | since,
                      cancel=self._stop, min_age=self.config.daemon.settle_seconds, scanned=scanned)
        if report.changed:
            log.info("reconciled: %s", report.summary())
        if report.deferred and self._scheduler is not None and not self._stop.is_set():
            # Files still changing, unseen by the watcher: look again once they settle.
            self._scheduler.add_job(self._guarded(self._reconcile), "date",
                                    run_date=utcnow() + timedelta(seconds=max(1.0, self.config.daemon.settle_seconds)),
                                    id="deferred-reconcile", replace_existing=True)
        if full_publish:
            self.plan.everything = True
        self._publish(report)

    def _lift_embargo(self) -> None:
        now = utcnow()
        docs = self._index.published_between(self._embargo_checked, now)
        for doc in docs:
            log.info("embargo over: %s", doc.path)
        self.plan.add_documents(docs)
        self._embargo_checked = now
        self._publish()

    def _apply_config(self, config: Config) -> None:
        if config.websub != self.config.websub:
            old, self.hubs = self.hubs, Hubs(config.websub)
            if old:
                old.close()
        self.config = config
        self.pending.settle = config.daemon.settle_seconds
        self.pending.write_timeout = max(config.daemon.write_timeout_seconds, config.daemon.settle_seconds)
        self.plan.everything = True
        self._reconcile()  # new rules or language settings re-tag every document
        self.notifier.ready(self.health.status_line())
        log.info("configuration reloaded")

    def _publish(self, report: SyncReport | None = None) -> list[str]:
        """Publish what is owed; on failure the plan keeps it and a retry follows (a full disk empties).
        Returns what was written."""
        if report is not None:
            self.plan.add(report)
        if not self.plan and not (report and report.changed):
            if self._caught_up:
                settle(self._index, self.config, utcnow())  # nothing was owed after all
            self._refresh_health(None)
            return []
        now = utcnow()
        started = time.perf_counter()
        everything = self.plan.everything
        try:
            # Until the start-up caught up, feeds/ may lag behind the index elsewhere: not settled.
            written = publish(self.config, self._index, now, self.plan, self.memo, settles=self._caught_up,
                              threads=self.threads)
        except OSError as exc:
            self._fail(exc)
            if not self._stop.is_set():
                self._scheduler.add_job(self._guarded(self._retry_publish), "date",
                                        run_date=utcnow() + timedelta(seconds=RETRY_SECONDS),
                                        id="retry-publish", replace_existing=True)
            return []
        if everything:
            self._embargo_checked = now
        if self.hubs:
            self.hubs.notify(changed_feed_urls(self.config, written))
        if written:
            log.info("rebuilt %d files in %.0f ms: %s", len(written), (time.perf_counter() - started) * 1000,
                     ", ".join(written[:8]) + (" …" if len(written) > 8 else ""))
        self._refresh_health(now)
        self._schedule_embargo()
        return written

    def _retry_publish(self) -> None:
        log.info("retrying the publish that failed")
        self._publish()

    def _fail(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log.error("%s", message, exc_info=not isinstance(exc, OSError))
        self.health = dataclasses.replace(self.health, last_error=message)
        self.notifier.status(self.health.status_line())

    def _refresh_health(self, built: datetime | None) -> None:
        counts = self._index.counts(utcnow())
        rejected = [{"path": path, "reason": reason} for path, reason in self._index.rejected(limit=100)]
        drafts = [{"path": path, "marker": marker} for path, marker in self._index.drafts(limit=100)]
        self.health = dataclasses.replace(
            self.health, documents=counts["published"], embargoed=counts["embargoed"], rejected=counts["rejected"],
            drafts=counts["drafts"], rejected_files=rejected, draft_files=drafts,
            last_build=built.isoformat(timespec="seconds") if built else self.health.last_build,
            last_error=None if built else self.health.last_error,
        )
        self.notifier.status(self.health.status_line())

    # -- scheduling (main and worker threads; the watcher only sets events) ------------

    def _on_paths(self) -> None:
        """On the watcher's thread: wake the main thread, which schedules the drain."""
        self._paths_seen.set()
        self._wakeup.set()

    def _on_overflow(self) -> None:
        """On the watcher's thread: the kernel dropped events; the main thread reconciles."""
        self._overflowed.set()
        self._wakeup.set()

    def _schedule_drain(self) -> None:
        """Run the drain when the next pending path is ready, unless it is due sooner."""
        delay = self.pending.next_ready_in()
        if delay is None or self._scheduler is None or self._stop.is_set():
            return
        due = time.monotonic() + delay
        with self._drain_lock:
            if self._drain_due is not None and self._drain_due <= due:
                return
            self._drain_due = due
        self._scheduler.add_job(self._guarded(self._drain), "date", run_date=utcnow() + timedelta(seconds=delay),
                                id="drain", replace_existing=True)

    def _reconcile_soon(self) -> None:
        """Events were lost: reconcile now rather than at the next rescan."""
        if self._scheduler is not None and not self._stop.is_set():
            log.warning("file events were lost (inotify queue overflow): reconciling %s", self.config.seeds_dir)
            self._scheduler.add_job(self._guarded(self._reconcile), "date",
                                    run_date=utcnow() + timedelta(seconds=OVERFLOW_RECONCILE_DELAY),
                                    id="overflow-reconcile", replace_existing=True)

    def _schedule_embargo(self) -> None:
        if self._stop.is_set():
            return
        upcoming = self._index.next_embargo(utcnow())
        if upcoming is None:
            try:
                self._scheduler.remove_job("embargo")
            except JobLookupError:
                pass
            return
        self._scheduler.add_job(self._guarded(self._lift_embargo), "date", run_date=upcoming, id="embargo",
                                replace_existing=True)

    def _reload_config(self) -> None:
        try:
            config = load_config(self.config.root, self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            return
        for section in ("server", "paths"):
            if getattr(config, section) != getattr(self.config, section):
                log.warning("[%s] changed: it takes effect at the next restart", section)
        config = dataclasses.replace(config, server=self.config.server, paths=self.config.paths)
        self.notifier.reloading()
        log.info("reloading the configuration")
        self._scheduler.add_job(self._guarded(self._apply_config), args=[config], id="reload", replace_existing=True)
