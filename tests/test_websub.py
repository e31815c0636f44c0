"""WebSub: hubs on loopback that the tests run and that record every notification."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from lxml import etree

from conftest import TOML, Project, parse_feed, wait_for
from feedd.build import build
from feedd.config import WebSubConfig, load_config
from feedd.websub import Hubs

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "http://example.test/news/"


class Hub:
    """A WebSub hub that records ``hub.url`` of each publish notification.

    ``fail``: answer this many requests with 503 first. ``gate``: hold each
    request until the event is set.
    """

    def __init__(self, fail: int = 0, gate: threading.Event | None = None):
        self.received: list[str] = []
        self.requests = 0
        self.fail = fail
        self.gate = gate
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode("ascii"))
                if hub.gate is not None:
                    hub.gate.wait(10)
                with hub._lock:
                    hub.requests += 1
                    failing = hub.requests <= hub.fail
                    if not failing and form.get("hub.mode") == ["publish"]:
                        hub.received.extend(form.get("hub.url", []))
                self.send_response(503 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def counts(self) -> Counter:
        with self._lock:
            return Counter(self.received)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    running = Hub()
    yield running
    running.close()


def config_for(*hubs: Hub, retries: int = 3) -> WebSubConfig:
    return WebSubConfig(hubs=tuple(h.url for h in hubs), retries=retries, backoff_seconds=0.05, timeout_seconds=5)


def tell_once(config: WebSubConfig, caplog, *hubs: Hub) -> dict[str, int]:
    """Notify one feed, wait for the outcome; the counts, with the log in ``caplog``."""
    notifier = Hubs(config)
    try:
        with caplog.at_level(logging.WARNING, logger="feedd.websub"):
            notifier.notify(["http://x.test/a.atom"])
            assert notifier.wait(10)
        return notifier.stats()
    finally:
        notifier.close()
        for hub in hubs:
            hub.close()


# -- the notifier alone -------------------------------------------------------------

def test_each_feed_is_told_to_every_hub_once(hub):
    other = Hub()
    hubs = Hubs(config_for(hub, other))
    try:
        hubs.notify(["http://x.test/a.atom", "http://x.test/a.rss", "http://x.test/b.json"])
        assert hubs.wait(10)
        assert hubs.stats() == {"pending": 0, "sent": 6, "failed": 0}
    finally:
        hubs.close()
        other.close()
    expected = Counter(["http://x.test/a.atom", "http://x.test/a.rss", "http://x.test/b.json"])
    assert hub.counts() == expected and other.counts() == expected


def test_a_failing_hub_is_retried_with_backoff_and_the_failure_logged(caplog):
    flaky = Hub(fail=2)
    assert tell_once(config_for(flaky, retries=3), caplog, flaky)["sent"] == 1
    assert flaky.counts() == Counter(["http://x.test/a.atom"]) and flaky.requests == 3
    retries = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert len(retries) == 2 and all("HTTP 503" in line and flaky.url in line for line in retries)


def test_it_gives_up_after_the_retries_and_says_so(caplog):
    down = Hub(fail=10**6)
    assert tell_once(config_for(down, retries=2), caplog, down) == {"pending": 0, "sent": 0, "failed": 1}
    assert down.requests == 3
    assert any("gave up" in r.getMessage() and "after 3 attempts" in r.getMessage() for r in caplog.records)


def test_an_unreachable_hub_is_a_logged_failure(caplog):
    gone = Hub()
    gone.close()  # nothing listens there any more
    assert tell_once(config_for(gone, retries=0), caplog)["failed"] == 1
    assert any("gave up" in r.getMessage() for r in caplog.records)


def test_notify_never_waits_for_a_slow_hub_and_repeats_are_told_once():
    gate = threading.Event()
    slow = Hub(gate=gate)
    hubs = Hubs(config_for(slow))
    try:
        hubs.notify(["http://x.test/a.atom"])
        wait_for(lambda: hubs.stats()["pending"] == 1 and not slow.counts(), message="the first request in flight")
        for _ in range(50):  # the hub is stuck on the first request: these return at once
            hubs.notify(["http://x.test/b.atom", "http://x.test/c.atom"])
        assert not gate.is_set() and hubs.stats()["pending"] == 3
        gate.set()
        assert hubs.wait(10)
    finally:
        hubs.close()
        slow.close()
    assert slow.counts() == Counter(["http://x.test/a.atom", "http://x.test/b.atom", "http://x.test/c.atom"])


# -- feeds and the daemon -----------------------------------------------------------------

def test_feeds_name_their_hubs_and_themselves(tmp_path, hub):
    project = Project(tmp_path, TOML + f'\n[websub]\nhubs = ["{hub.url}"]\n')
    project.seed("a.txt", " date 2026-03-01 Zelensky spoke in Kyiv on Sunday about the drones of the war.")
    build(project.config)
    atom = etree.fromstring((project.feeds / "topics/ukraine.atom").read_bytes())
    links = {link.get("rel"): link.get("href") for link in atom.findall(f"{ATOM}link")}
    assert links["hub"] == hub.url and links["self"] == BASE + "topics/ukraine.atom"
    rss = etree.fromstring((project.feeds / "topics/ukraine.rss").read_bytes())
    rss_links = {link.get("rel"): link.get("href") for link in rss.iter(f"{ATOM}link")}
    assert rss_links == {"hub": hub.url, "self": BASE + "topics/ukraine.rss"}
    parse_feed((project.feeds / "topics/ukraine.rss").read_bytes())
    body = json.loads((project.feeds / "topics/ukraine.json").read_bytes())
    assert body["hubs"] == [{"type": "WebSub", "url": hub.url}]


def feed_bytes(project: Project) -> dict[str, bytes]:
    return {path: data for path, data in project.outputs().items()
            if path.endswith((".atom", ".rss", ".json")) and "/archive/" not in path}


def test_the_daemon_tells_the_hub_of_each_changed_feed_once_per_rebuild(tmp_path, hub, start_daemon):
    project = Project(tmp_path, TOML + f'\n[websub]\nhubs = ["{hub.url}"]\nbackoff_seconds = 0.1\n')
    project.seed("a.txt", " date 2026-03-01 Zelensky spoke in Kyiv on Sunday about the war and the front.")
    project.seed("b.txt", " date 2026-03-02 The navy tested new drones near the coast on Monday morning.")
    daemon = start_daemon(project.root)

    def websub():
        return json.loads(daemon.get("/healthz")[2])["websub"]

    wait_for(lambda: websub()["pending"] == 0 and websub()["sent"] > 0, message="the first notifications")
    first = hub.counts()
    assert set(first) == {BASE + path for path in feed_bytes(project)}  # the first run wrote every feed
    assert max(first.values()) == 1

    for step, (name, text) in enumerate([
        ("c.txt", " date 2026-03-03 Le président ukrainien a parlé à Kiev de la guerre et du front."),
        ("b.txt", " date 2026-03-02 The navy tested new drones near the coast on Monday, the admiral said."),
    ]):
        before, told = feed_bytes(project), hub.counts()
        sent = websub()["sent"]
        project.seed(name, text)
        wait_for(lambda: websub()["sent"] > sent and websub()["pending"] == 0, message=f"rebuild {step}'s notifications")
        after = feed_bytes(project)
        changed = {BASE + path for path in after if before.get(path) != after[path]}
        assert changed and BASE + "all.atom" in changed
        new = hub.counts() - told
        assert new == Counter(changed), f"rebuild {step}: told {sorted(new)}, changed {sorted(changed)}"
    # The edit of b.txt left the Ukraine topic alone: its feeds were not announced again.
    assert hub.counts()[BASE + "topics/ukraine.atom"] == 2
    assert daemon.stop() == 0


def test_feedd_build_tells_the_hubs_too(tmp_path, hub):
    import subprocess
    import sys

    project = Project(tmp_path, TOML + f'\n[websub]\nhubs = ["{hub.url}"]\n')
    project.seed("a.txt", " date 2026-03-01 Zelensky spoke in Kyiv on Sunday about the war and the front.")
    done = subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(project.root)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "websub:" in done.stdout and "0 failed" in done.stdout
    assert set(hub.counts()) == {BASE + path for path in feed_bytes(project)}
    again = subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(project.root)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "websub" not in again.stdout  # nothing changed, nobody told
    assert max(hub.counts().values()) == 1
    assert load_config(project.root).websub.hubs == (hub.url,)
