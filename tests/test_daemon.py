"""``feedd run`` end to end: a real daemon in a subprocess, real files, real HTTP."""

import gzip
import json
import os
import signal
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import TOML, Project, wait_for

DAEMON_TOML = TOML + "\n[daemon]\nsettle_seconds = 0.1\nwrite_timeout_seconds = 5.0\n"
FR = " date 2026-03-08 Le président ukrainien Zelensky a parlé dimanche à Kiev devant la presse internationale.\n"


@pytest.fixture
def site(tmp_path):
    return Project(tmp_path / "site", DAEMON_TOML)


def entries(daemon, feed):
    """The feed's entries; a feed not published yet has none."""
    if daemon.get(feed, method="HEAD")[0] == 404:
        return []
    return daemon.feed(feed).entries


def entry_ids(daemon, feed):
    return [e.id for e in entries(daemon, feed)]


def seed_later(site, daemon, seconds: int) -> datetime:
    """A document dated ``seconds`` from now (whole seconds), once the daemon has read it."""
    when = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).replace(microsecond=0)
    site.seed("later.txt", f"title: Plus tard\ndate: {when.isoformat()}\n\nZelensky parlera à Kiev plus tard.\n")
    wait_for(lambda: "ingested later.txt" in daemon.log(), message="the ingest")
    return when


def test_drop_edit_move_delete(site, start_daemon):
    daemon = start_daemon(site.root)
    assert daemon.feed("/topics/ukraine.atom").entries == []  # a configured topic exists before its first document
    path = site.seed("a.txt", FR)
    first = wait_for(lambda: entries(daemon, "/topics/ukraine.atom"), message="the entry")[0]
    assert first.link.endswith(".html")

    path.write_text(FR.replace("dimanche", "lundi"), encoding="utf-8")
    edited = wait_for(lambda: [e for e in entries(daemon, "/topics/ukraine.atom") if "lundi" in e.content[0].value],
                      message="the edit")[0]
    assert edited.id == first.id and edited.updated_parsed > first.updated_parsed

    (site.seeds / "europe").mkdir()
    os.rename(path, site.seeds / "europe" / "b.txt")
    assert wait_for(lambda: entry_ids(daemon, "/topics/europe.atom"), message="the move") == [first.id]
    assert entry_ids(daemon, "/all.atom") == [first.id]

    (site.seeds / "europe" / "b.txt").unlink()
    wait_for(lambda: entry_ids(daemon, "/all.atom") == [], message="the removal")
    # Each file is renamed into place on its own: the topic feed and the page follow within moments.
    wait_for(lambda: entry_ids(daemon, "/topics/europe.atom") == [], message="the topic feed")  # empty, still served
    wait_for(lambda: daemon.get("/" + first.link.split("/", 3)[3])[0] == 404, message="the page to go")
    assert daemon.stop() == 0


def test_a_half_written_file_is_never_served(site, start_daemon):
    daemon = start_daemon(site.root)
    body = FR + "\n".join(f"Paragraphe {n} sur la guerre en Ukraine et ses conséquences." for n in range(40)) + "\nFIN.\n"
    chunk = len(body) // 8 + 1  # eight chunks, 0.4 s apart: written over more than 3 s
    with open(site.seeds / "slow.txt", "w", encoding="utf-8") as fh:
        for start in range(0, len(body), chunk):
            fh.write(body[start:start + chunk])
            fh.flush()
            deadline = time.monotonic() + 0.4  # the writer's pace is what is under test
            while time.monotonic() < deadline:
                assert entry_ids(daemon, "/all.atom") == [], "published while still being written"
    entry = wait_for(lambda: entries(daemon, "/all.atom"), message="the finished file")[0]
    assert "FIN." in entry.content[0].value
    assert daemon.log().count("ingested slow.txt") == 1  # a burst of events, one ingest


def test_changes_made_while_stopped_are_caught_up(site, start_daemon):
    keep = site.seed("keep.txt", FR)
    site.seed("gone.txt", FR.replace("Zelensky", "Zelensky encore"))
    site.seed("moved.txt", FR.replace("Kiev", "Kiev aussi"))
    daemon = start_daemon(site.root)
    before = {e.title: e.id for e in entries(daemon, "/all.atom")}
    assert len(before) == 3
    assert daemon.stop() == 0

    keep.write_text(FR.replace("dimanche", "mardi"), encoding="utf-8")
    (site.seeds / "gone.txt").unlink()
    (site.seeds / "sub").mkdir()
    os.rename(site.seeds / "moved.txt", site.seeds / "sub" / "moved.txt")
    site.seed("new.txt", FR.replace("Zelensky", "Zelensky toujours"))

    daemon = start_daemon(site.root)
    # It serves the last run's feeds at once (whole files), and catches up within moments.
    after = wait_for(lambda: (found := entries(daemon, "/all.atom")) and any("mardi" in e.title for e in found)
                     and len(found) == 3 and found, message="the catch-up")
    ids = {e.id for e in after}
    assert before["Le président ukrainien Zelensky a parlé dimanche à Kiev aussi devant la presse internationale."] in ids
    assert entry_ids(daemon, "/topics/sub.atom") == [
        before["Le président ukrainien Zelensky a parlé dimanche à Kiev aussi devant la presse internationale."]]
    assert any("mardi" in e.title for e in after)
    assert daemon.stop() == 0


def test_a_restart_publishes_everything_only_when_a_publish_was_owed(site, start_daemon):
    """A clean stop leaves feeds/ settled: the next start publishes what changed since, not
    everything (a file deleted by hand stays deleted); after a crash between the index and feeds/
    (the index says a publish is owed), the next start publishes everything."""
    from feedd.config import load_config
    from feedd.index import Index
    from feedd.publish import owe

    site.seed("alpha/a.txt", FR)
    daemon = start_daemon(site.root)
    wait_for(lambda: entry_ids(daemon, "/topics/alpha.atom"), message="the first publish")
    assert daemon.stop() == 0
    alpha = site.root / "feeds" / "topics" / "alpha.rss"
    alpha.unlink()
    site.seed("beta/b.txt", FR.replace("dimanche", "mardi"))

    daemon = start_daemon(site.root)
    wait_for(lambda: entry_ids(daemon, "/topics/beta.atom"), message="the catch-up")
    wait_for(lambda: "reconciled" in daemon.log() and "rebuilt" in daemon.log(), message="the start-up publish")
    assert not alpha.exists()  # not published again: nothing about it changed
    assert daemon.stop() == 0

    with Index(load_config(site.root).index_path) as index:
        owe(index)  # as a kill between a drop's index commit and its publish leaves it
    daemon = start_daemon(site.root)
    wait_for(alpha.exists, message="everything published again")
    assert daemon.stop() == 0


def test_a_document_whose_time_came_while_stopped_appears_at_start(site, start_daemon):
    daemon = start_daemon(site.root)
    # Far enough ahead for a first document's inflection lookup (seconds, once per language) and a stop.
    when = seed_later(site, daemon, seconds=10)
    assert daemon.stop() == 0
    assert datetime.now(timezone.utc) < when  # stopped before its time: this run never published it
    wait_for(lambda: datetime.now(timezone.utc) > when, timeout=12, message="its time")
    daemon = start_daemon(site.root)
    assert len(wait_for(lambda: entry_ids(daemon, "/all.atom"), message="the document")) == 1
    assert daemon.stop() == 0


def test_sighup_reloads_topic_rules(site, start_daemon):
    site.seed("a.txt", FR)
    daemon = start_daemon(site.root)
    assert daemon.get("/topics/presse.atom")[0] == 404
    site.write_config(DAEMON_TOML + '\n[topics.presse]\ntitle = "Presse"\nkeywords = ["presse"]\n')
    daemon.signal(signal.SIGHUP)
    assert len(wait_for(lambda: daemon.get("/topics/presse.atom")[0] == 200 and entry_ids(daemon, "/topics/presse.atom"),
                        message="the new topic")) == 1
    site.write_config("[feeds]\nmax_items = 'bad'\n")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.log(), message="the refusal")
    assert "feeds.max_items must be an integer" in daemon.log()
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0


def test_a_future_document_appears_when_its_time_comes(site, start_daemon):
    daemon = start_daemon(site.root)
    when = seed_later(site, daemon, seconds=3)
    assert entry_ids(daemon, "/all.atom") == []
    wait_for(lambda: entry_ids(daemon, "/all.atom"), timeout=15, message="the embargo to end")
    assert datetime.now(timezone.utc) >= when
    # Feeds are separate files, renamed one after the other: the topic feed follows within moments.
    assert len(wait_for(lambda: entry_ids(daemon, "/topics/ukraine.atom"), message="the topic feed")) == 1
    assert daemon.stop() == 0


def test_http_validators_gzip_head_and_methods(site, start_daemon):
    site.seed("a.txt", FR * 5)
    daemon = start_daemon(site.root)
    status, headers, body = daemon.get("/all.atom")
    assert status == 200 and headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert headers["cache-control"].startswith("public, max-age=")
    etag = headers["etag"]
    # Last-Modified is given once the second the feed was written in is over.
    modified = wait_for(lambda: daemon.get("/all.atom", method="HEAD")[1].get("last-modified"), timeout=5,
                        message="a Last-Modified date")
    assert daemon.get("/all.atom", headers={"If-None-Match": etag})[0] == 304
    assert daemon.get("/all.atom", headers={"If-None-Match": '"other"'})[0] == 200
    assert daemon.get("/all.atom", headers={"If-Modified-Since": modified})[0] == 304

    status, zipped_headers, zipped = daemon.get("/all.atom", headers={"Accept-Encoding": "gzip"})
    assert zipped_headers["content-encoding"] == "gzip" and gzip.decompress(zipped) == body
    assert zipped_headers["vary"] == "Accept-Encoding"
    assert daemon.get("/all.atom", headers={"Accept-Encoding": "gzip;q=0"})[1].get("content-encoding") is None
    assert daemon.get("/all.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped_headers["etag"]})[0] == 304

    status, head_headers, head_body = daemon.get("/all.atom", method="HEAD")
    assert status == 200 and head_body == b"" and head_headers["content-length"] == str(len(body))
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, _ = daemon.get("/all.atom", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD"

    expected = {"/all.rss": "application/rss+xml; charset=utf-8", "/feeds.opml": "text/x-opml; charset=utf-8",
                "/": "text/html; charset=utf-8", "/index.html": "text/html; charset=utf-8"}
    for path, content_type in expected.items():
        status, headers, _ = daemon.get(path)
        assert (status, headers["content-type"]) == (200, content_type), path
    assert daemon.get("/topics/")[0] == 404  # no directory listings
    assert daemon.get("/topics")[0] == 404
    health = json.loads(daemon.get("/healthz")[2])
    assert health["documents"] == 1 and health["rejected"] == 0 and health["last_error"] is None
    assert health["uptime_seconds"] > 0 and health["last_build"]
    assert daemon.stop() == 0


TRAVERSALS = [
    "/../feedd.toml", "/..%2ffeedd.toml", "/%2e%2e/feedd.toml", "/%2E%2E/%2E%2E/etc/passwd", "/topics/../../feedd.toml",
    "/..\\feedd.toml", "/%5c..%5cfeedd.toml", "/all.atom%00.html", "//etc/passwd", "/%c0%ae%c0%ae/feedd.toml",
    "/.feedd/index.sqlite3", "/../.feedd/index.sqlite3", "/./all.atom", "/topics//ukraine.atom", "/etc/passwd",
    "/%2fetc%2fpasswd", "/escape/feedd.toml",
]


def test_nothing_outside_feeds_is_served(site, start_daemon):
    site.seed("a.txt", FR)
    (site.feeds).mkdir(exist_ok=True)
    (site.feeds / "escape").symlink_to(site.root)
    (site.feeds / "passwd.atom").symlink_to("/etc/passwd")
    daemon = start_daemon(site.root)
    for path in TRAVERSALS + ["/passwd.atom"]:
        status, _, body = daemon.get(path)
        assert status in (400, 404), f"{path}: {status}"
        assert b"[topics" not in body and b"root:" not in body
    assert daemon.stop() == 0


def test_systemd_notify_protocol(site, start_daemon, tmp_path):
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(20)
    try:
        daemon = start_daemon(site.root, env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
        messages = []

        def receive(prefix):
            while True:
                message = sock.recv(4096).decode()
                messages.append(message)
                if message.startswith(prefix) or f"\n{prefix}" in message:
                    return message

        ready = receive("READY=1")
        assert "STATUS=0 documents, 0 rejected" in ready and f"MAINPID={daemon.proc.pid}" in ready
        receive("WATCHDOG=1")
        site.seed("a.txt", FR)
        assert "1 documents" in receive("STATUS=1 documents")
        daemon.signal(signal.SIGTERM)
        receive("STOPPING=1")
        assert daemon.stop() == 0
    finally:
        sock.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_it_cleanly_and_quickly(site, start_daemon, signum):
    for n in range(30):
        site.seed(f"{n}.txt", FR.replace("dimanche", f"le {n}"))
    daemon = start_daemon(site.root)
    started = time.monotonic()
    assert daemon.stop(signum, timeout=5) == 0
    assert time.monotonic() - started < 5
    assert "stopped" in daemon.log()
    assert not [p for p in site.feeds.rglob(".*.tmp")]


def test_journald_gets_lines_without_our_timestamps(site, start_daemon):
    daemon = start_daemon(site.root, env={"JOURNAL_STREAM": "8:12345"})
    daemon.stop()
    first = daemon.log().splitlines()[0]
    assert first.startswith("INFO reconciling"), first


def test_one_feedd_at_a_time_on_a_project(site, start_daemon):
    """A second daemon, or a build, on a project a daemon publishes is refused in one line (both
    would read every drop and write feeds/ at once); a daemon killed by -9 leaves no lock behind."""
    import subprocess
    import sys

    daemon = start_daemon(site.root)
    for command in (("run", "--port", "0"), ("build",)):
        second = subprocess.run([sys.executable, "-m", "feedd", command[0], "--root", str(site.root), *command[1:]],
                                capture_output=True, text=True, timeout=120)
        lines = second.stderr.strip().splitlines()
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert f"in use by another feedd (pid {daemon.proc.pid})" in lines[0]
    daemon.proc.kill()
    daemon.proc.wait()
    daemon = start_daemon(site.root)
    assert daemon.stop() == 0
