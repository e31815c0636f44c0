"""Shared fixtures: a real project folder in tmp_path, real files, real feeds."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import feedparser
import pytest

from feedd.config import Config, load_config

TOML = """\
[site]
title = "Test site"
base_url = "http://example.test/news/"
author = "Desk"
tag_authority = "example.test,2026"
timezone = "UTC"

[topics.ukraine]
title = "Ukraine"
keywords = ["Ukraine", "ukrainien", "Kyiv", "Kiev", "Zelensky"]

[topics.defense]
title = "Défense"
keywords = ["drone", "drones", "armements"]
"""
# Archives after ten entries, ten a page: a few dozen documents fill several pages in every feed.
SMALL_ARCHIVES = TOML.replace("[topics.ukraine]", "[feeds]\nmax_items = 10\narchive_page_size = 10\n\n[topics.ukraine]")


class Project:
    """A feedd project folder: feedd.toml, seeds/, feeds/, in tmp_path."""

    def __init__(self, root: Path, toml: str = TOML):
        self.root = root
        self.seeds = root / "seeds"
        self.feeds = root / "feeds"
        self.seeds.mkdir(parents=True, exist_ok=True)
        self.write_config(toml)

    def write_config(self, toml: str) -> None:
        (self.root / "feedd.toml").write_text(toml, encoding="utf-8")

    @property
    def config(self) -> Config:
        return load_config(self.root)

    def seed(self, relpath: str, text: str | bytes, mtime: float | None = None) -> Path:
        path = self.seeds / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def feed(self, relpath: str) -> feedparser.FeedParserDict:
        return parse_feed((self.feeds / relpath).read_bytes())

    def outputs(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.feeds)): p.read_bytes() for p in sorted(self.feeds.rglob("*")) if p.is_file()}


def parse_feed(data: bytes) -> feedparser.FeedParserDict:
    """Parse with feedparser and insist on no bozo flag: what real readers need."""
    parsed = feedparser.parse(data)
    assert not parsed.bozo, f"feed is not well-formed: {parsed.get('bozo_exception')!r}"
    return parsed


@pytest.fixture(scope="session", autouse=True)
def inflection_cache(tmp_path_factory) -> Path:
    """One cache of keyword inflections for the session (a machine has one too):
    each language's dictionary is loaded once, not once per test project."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)  # inherited by the daemons and CLIs the tests start
    yield cache
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "site")


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """A test that starts a thread must stop it (watchdog's tests do the same)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not leaked:
            return
        time.sleep(0.02)
    raise AssertionError(f"threads leaked: {leaked}")


SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared_sample() -> Path:
    """The real article in ../shared/samples (bundled in seeds/ as well)."""
    samples = sorted((SHARED / "samples").glob("*.txt"))
    if samples:
        return samples[0]
    return Path(__file__).resolve().parents[1] / "seeds" / "000_3694e6face1e9005.txt"


class DaemonProcess:
    """``feedd run`` in a real subprocess on an ephemeral port, its log in a file."""

    def __init__(self, root: Path, env: dict | None = None, args: tuple = (), prefix: tuple = ()):
        import subprocess
        import sys

        self.root = root
        self.log_path = root / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            environment.pop(name, None)  # only what the test asks for
        environment.update(env or {})
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "feedd", "run", "--root", str(root), "--port", "0", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=environment,
        )
        line = wait_for(lambda: self._serving_line(), timeout=120, message="the daemon to serve")
        self.url = line.split("serving ", 1)[1].split(" ", 1)[0]
        self.host, port = self.url[len("http://"):].rstrip("/").rsplit(":", 1)
        self.port = int(port)

    def _serving_line(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
        return next((l for l in self.log().splitlines() if " serving http://" in l), None)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, method: str = "GET", headers: dict | None = None):
        """One request on a fresh connection: (status, headers, body)."""
        import http.client

        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def feed(self, path: str):
        status, _, body = self.get(path)
        assert status == 200, f"GET {path}: {status}"
        return parse_feed(body)

    def signal(self, signum) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum=None, timeout: float = 5.0) -> int:
        import signal as signals

        if self.proc.poll() is None:
            self.proc.send_signal(signum or signals.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code


@pytest.fixture
def start_daemon():
    started: list[DaemonProcess] = []

    def start(root: Path, **kwargs) -> DaemonProcess:
        daemon = DaemonProcess(root, **kwargs)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()


def unprivileged() -> tuple[str, ...]:
    """A command prefix under which file permissions bind, even for root.

    Root ignores a file's mode through CAP_DAC_OVERRIDE; without it (and
    CAP_DAC_READ_SEARCH) a root process is refused like anyone else.
    """
    import shutil

    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return (setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}")
