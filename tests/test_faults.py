"""Faults: crashes, torn reads, lost events, a full or read-only disk, a lost index.

Slow (marked ``slow``); ``.ci/run`` runs them with the rest.
"""

import dataclasses
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from urllib.request import urlopen

import pytest
from lxml import etree

from conftest import TOML, Project, parse_feed, wait_for

pytestmark = pytest.mark.slow

FAST = TOML + """
[feeds]
max_items = 1000

[daemon]
settle_seconds = 0.05
rescan_seconds = 30
"""


def doc(n: int) -> str:
    return (f" date 2025-{1 + n % 12:02d}-{1 + n % 28:02d} Zelensky a parlé à Kiev, dépêche numéro {n}, "
            f"de la défense et des drones.\n")


def index_rows(project) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "feedd", "list", "--json", "--root", str(project.root)],
                            capture_output=True, text=True, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_exactly_once(project, expected_paths: set[str]) -> None:
    rows = index_rows(project)
    published = [row for row in rows if row["state"] == "published"]
    assert {row["path"] for row in published} == expected_paths
    assert len({row["id"] for row in published}) == len(published)
    for path in project.feeds.rglob("*"):
        if path.suffix in (".atom", ".rss"):
            ids = [e.id for e in parse_feed(path.read_bytes()).entries]
            assert len(ids) == len(set(ids)), f"duplicate entries in {path.name}"
    all_ids = {e.id for e in parse_feed((project.feeds / "all.atom").read_bytes()).entries}
    newest = sorted(published, key=lambda r: r["published"], reverse=True)[:1000]
    assert {row["id"] for row in newest} <= all_ids | {r["id"] for r in published[1000:]}
    with sqlite3.connect(project.config.index_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_9_during_a_bulk_drop_loses_and_duplicates_nothing(tmp_path, start_daemon):
    project = Project(tmp_path / "site", FAST)
    rng = random.Random(7)
    total = 2000
    dropped = threading.Event()

    def drop():
        for n in range(total):
            (project.seeds / f"bulk-{n:04d}.txt").write_text(doc(n), encoding="utf-8")
            if n % 100 == 99:
                time.sleep(0.05)  # spread the drop over the kills
        dropped.set()

    writer = threading.Thread(target=drop)
    writer.start()
    kills, helpers = 0, set()
    try:
        while kills < 20:
            proc = subprocess.Popen([sys.executable, "-m", "feedd", "run", "--root", str(project.root), "--port", "0"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.2, 1.5))  # a random moment is the thing under test
            helpers |= descendants(proc.pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    finally:
        writer.join()
    # Nothing a killed daemon started lives on: its forkserver, a worker asked for as it died.
    wait_for(lambda: not any(alive(pid) for pid in helpers), timeout=10, message="the killed daemons' helpers to exit")
    daemon = start_daemon(project.root)
    wait_for(lambda: json.loads(daemon.get("/healthz")[2])["documents"] == total, timeout=180,
             message="every file to be published")
    assert daemon.stop() == 0
    assert_exactly_once(project, {f"bulk-{n:04d}.txt" for n in range(total)})
    assert not list(project.feeds.rglob(".*.tmp"))
    print(f"crash test: {kills} kills, {total} files, 0 lost, 0 duplicated, 0 malformed")


def test_no_torn_reads_while_rebuilding(tmp_path, start_daemon):
    project = Project(tmp_path / "site", FAST)
    for n in range(50):
        project.seed(f"{n}.txt", doc(n))
    daemon = start_daemon(project.root)
    stop = threading.Event()

    def churn():
        n = 0
        while not stop.is_set():
            project.seed(f"churn-{n % 20}.txt", doc(1000 + n) + "x" * (n % 7))
            n += 1
            stop.wait(0.02)

    churner = threading.Thread(target=churn)
    churner.start()
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    fetched = Counter()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            for path in ("/all.atom", "/all.rss", "/topics/ukraine.atom", "/languages/fr.rss"):
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, path
                etree.fromstring(body)  # raises on a torn document
                fetched[path] += 1
    finally:
        stop.set()
        churner.join()
    assert "rebuilt" in daemon.log() and sum(fetched.values()) > 200
    assert daemon.stop() == 0
    print(f"torn reads: {sum(fetched.values())} responses in 30 s, all well-formed")


def test_an_inotify_overflow_loses_nothing(tmp_path, start_daemon):
    project = Project(tmp_path / "site", FAST)
    daemon = start_daemon(project.root)
    total = 20_000
    queue = int(open("/proc/sys/fs/inotify/max_queued_events").read())
    assert 3 * total > queue, "the kernel queue is too large for this test to overflow it"
    # The daemon stalls (stopped) while 20,000 files appear: 60,000 events for a
    # queue of 16,384 by default, so the kernel drops events, as on a busy machine.
    daemon.signal(signal.SIGSTOP)
    try:
        for n in range(total):
            (project.seeds / f"o{n:05d}.txt").write_bytes(b" date 2026-03-08 Note %d." % n)
    finally:
        daemon.signal(signal.SIGCONT)
    wait_for(lambda: json.loads(daemon.get("/healthz")[2])["documents"] == total, timeout=600,
             message="every file after the reconciliation")
    assert "inotify queue overflow" in daemon.log()
    assert daemon.stop() == 0
    rows = index_rows(project)
    assert len(rows) == total and len({r["id"] for r in rows}) == total


def _mount_tmpfs(path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)]).returncode == 0


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_unwritable_output_keeps_old_feeds_served_and_recovers(tmp_path, start_daemon, fault):
    project = Project(tmp_path / "site", FAST)
    if not _mount_tmpfs(project.feeds, "2m"):
        pytest.skip("needs root and mount(8) to make a small tmpfs for feeds/")
    try:
        project.seed("first.txt", doc(1))
        daemon = start_daemon(project.root)
        before = daemon.get("/all.atom")[2]
        assert len(parse_feed(before).entries) == 1
        if fault == "full":
            filler = project.feeds / ".filler"
            with open(filler, "wb") as fh:
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                except OSError:
                    pass
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(project.feeds)], check=True)
        project.seed("second.txt", doc(2))
        wait_for(lambda: json.loads(daemon.get("/healthz")[2])["last_error"], message="the error to be reported")
        assert ("No space left" if fault == "full" else "Read-only") in daemon.log()
        for _ in range(20):  # the old feeds stay intact and served while it fails
            status, _, body = daemon.get("/all.atom")
            assert status == 200 and len(parse_feed(body).entries) == 1
        if fault == "full":
            filler.unlink()
        else:
            subprocess.run(["mount", "-o", "remount,rw", str(project.feeds)], check=True)
        wait_for(lambda: len(parse_feed(daemon.get("/all.atom")[2]).entries) == 2, timeout=20,
                 message="the retry to succeed")
        # The job clears the error once all of its writes are done, just after all.atom's.
        wait_for(lambda: json.loads(daemon.get("/healthz")[2])["last_error"] is None, message="the error to clear")
        assert daemon.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(project.feeds)])


def test_a_lost_index_is_rebuilt_with_the_same_ids(tmp_path, start_daemon):
    project = Project(tmp_path / "site", FAST)
    for n in range(30):
        project.seed(f"sub{n % 3}/{n}.txt", doc(n))
    daemon = start_daemon(project.root)
    wait_for(lambda: len(daemon.feed("/all.atom").entries) == 30, message="all 30 documents")
    before = {e.id: e.link for e in daemon.feed("/all.atom").entries}
    assert daemon.stop() == 0
    shutil.rmtree(project.root / ".feedd")
    daemon = start_daemon(project.root)
    after = {e.id: e.link for e in daemon.feed("/all.atom").entries}
    assert after == before and len(after) == 30
    assert daemon.stop() == 0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "zombie" not in fh.read().lower()
    except OSError:
        return False


def descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (children of children too), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_a_daemons_workers_read_a_burst_and_die_with_it(tmp_path, start_daemon):
    """A burst is read by worker processes forked from the daemon's forkserver (a process with
    threads must not fork itself); SIGKILL of the daemon takes the server and its workers along."""
    project = Project(tmp_path / "site", FAST)
    daemon = start_daemon(project.root)
    wait_for(lambda: json.loads(daemon.get("/healthz")[2])["last_build"], message="the first build")
    helpers = descendants(daemon.proc.pid)
    assert helpers, "no forkserver started with the daemon"
    for n in range(300):
        (project.seeds / f"burst-{n:04d}.txt").write_text(doc(n), encoding="utf-8")
    wait_for(lambda: json.loads(daemon.get("/healthz")[2])["documents"] == 300, timeout=120,
             message="the burst published")
    log = daemon.log()
    assert "Traceback" not in log and "change of" in log
    daemon.proc.kill()
    daemon.proc.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in helpers), timeout=10, message="the forkserver to exit")
    assert_exactly_once(project, {f"burst-{n:04d}.txt" for n in range(300)})


def test_a_daemon_killed_while_its_workers_read_leaves_none_behind(tmp_path, start_daemon):
    """Workers forked from the forkserver wait on their pool for more work, and hold the server's
    lifeline: SIGKILL of the daemon in the middle of a burst must still take the server and every
    worker along (the server dies with the daemon, the workers with the server)."""
    project = Project(tmp_path / "site", FAST)
    daemon = start_daemon(project.root)
    wait_for(lambda: json.loads(daemon.get("/healthz")[2])["last_build"], message="the first build")
    server = descendants(daemon.proc.pid)
    for n in range(3000):
        (project.seeds / f"burst-{n:04d}.txt").write_text(doc(n), encoding="utf-8")
    wait_for(lambda: len(descendants(daemon.proc.pid) - server) >= 2, timeout=60, message="the burst's workers")
    helpers = descendants(daemon.proc.pid)
    daemon.proc.kill()
    daemon.proc.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in helpers), timeout=10,
             message="the forkserver and its workers to exit")


def test_a_killed_build_leaves_no_worker_behind(tmp_path):
    """feedd build reads big batches in worker processes; SIGKILL of the parent must take them along."""
    project = Project(tmp_path / "site", FAST)
    for n in range(2000):
        project.seed(f"many/{n:05d}.txt", doc(n))
    proc = subprocess.Popen([sys.executable, "-m", "feedd", "build", "--root", str(project.root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children_file = f"/proc/{proc.pid}/task/{proc.pid}/children"

    def workers():
        try:
            return [int(pid) for pid in open(children_file).read().split()]
        except OSError:
            return []

    def indexed():
        try:
            with sqlite3.connect(project.root / ".feedd" / "index.sqlite3", timeout=5) as db:
                return db.execute("SELECT count(*) FROM documents").fetchone()[0]
        except sqlite3.Error:
            return 0

    # Killed once the workers have read a batch (so they are past their start-up).
    wait_for(lambda: len(workers()) >= 2 and indexed(), timeout=60, message="the workers' first batch")
    pids = workers()
    proc.kill()
    proc.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10, message="the workers to exit")


def test_without_a_worker_for_its_scan_a_daemon_scans_in_its_own_process(tmp_path, monkeypatch, caplog):
    """The start-up scan runs in a worker process; when none can be had (fork refused), the daemon
    scans seeds/ itself and catches up all the same. The daemon runs in this process, on a thread,
    where its fork can be refused."""
    from feedd import daemon as module

    project = Project(tmp_path / "site", FAST)
    project.seed("a.txt", doc(1))
    project.seed("b/c.txt", doc(2))

    def refused(*args):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(module, "apart", refused)
    config = project.config
    daemon = module.Daemon(dataclasses.replace(config, server=dataclasses.replace(config.server, port=0)))
    caplog.set_level(logging.INFO, logger="feedd")
    running = threading.Thread(target=daemon.run, name="test-daemon")
    running.start()

    def published():
        """Everything's feed once it lists both files (None before it is served, or while it is not)."""
        try:
            feed = parse_feed(urlopen(daemon.server.url + "all.atom", timeout=10).read())
        except (AttributeError, OSError):  # no server yet, or not listening yet
            return None
        return feed if len(feed.entries) == 2 else None

    try:
        feed = wait_for(published, timeout=60, message="both files published")
        assert not feed.bozo
        assert "scanning" in caplog.text and "in this process" in caplog.text and "Resource temporarily" in caplog.text
    finally:
        daemon.request_stop()
        running.join(timeout=60)
    assert not running.is_alive()
