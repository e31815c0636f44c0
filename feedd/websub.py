"""WebSub publishing: tell each hub which feeds changed, without ever making anyone wait.

:meth:`Hubs.notify` only queues; one thread per hub POSTs ``hub.mode=publish``
and ``hub.url=<feed>`` (the form every hub accepts), retries a failure with
exponential backoff and logs it. A feed that changes again while its
notification still waits is told once: the hub fetches the newest bytes anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from . import __version__
from .config import Config, WebSubConfig

log = logging.getLogger(__name__)

FEED_SUFFIXES = (".atom", ".rss", ".json")


def changed_feed_urls(config: Config, written: Iterable[str]) -> list[str]:
    """The subscribable feeds among written files (archive pages never change for a subscriber)."""
    return [config.site.base_url + path for path in written
            if path.endswith(FEED_SUFFIXES) and "/archive/" not in path]


@dataclass
class _Waiting:
    attempt: int  # failures so far
    due: float  # time.monotonic() of the next try


class _Hub(threading.Thread):
    def __init__(self, url: str, config: WebSubConfig, on_change):
        super().__init__(name=f"feedd-websub-{url}", daemon=True)
        self.url = url
        self.config = config
        self._on_change = on_change
        self._lock = threading.Condition()
        self._waiting: dict[str, _Waiting] = {}  # feed URL -> when to try
        self._sending: str | None = None
        self._stopped = False
        self.sent = 0
        self.failed = 0

    def add(self, feeds: Iterable[str]) -> None:
        with self._lock:
            now = time.monotonic()
            for feed in feeds:
                self._waiting.setdefault(feed, _Waiting(0, now))
            self._lock.notify()

    def pending(self) -> int:
        with self._lock:
            return len(self._waiting) + (self._sending is not None)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify()

    def run(self) -> None:
        while True:
            with self._lock:
                feed = self._next()
                if feed is None:
                    return
                waiting = self._waiting.pop(feed)
                self._sending = feed
            error = self._send(feed)
            with self._lock:
                self._sending = None
                if error is None:
                    self.sent += 1
                    log.debug("websub: told %s of %s", self.url, feed)
                elif waiting.attempt < self.config.retries and not self._stopped:
                    delay = self.config.backoff_seconds * 2 ** waiting.attempt
                    log.warning("websub: %s refused %s (%s); trying again in %.1f s", self.url, feed, error, delay)
                    if feed not in self._waiting:  # a newer change is already waiting: that one goes
                        self._waiting[feed] = _Waiting(waiting.attempt + 1, time.monotonic() + delay)
                else:
                    self.failed += 1
                    log.error("websub: gave up telling %s of %s after %d attempts: %s",
                              self.url, feed, waiting.attempt + 1, error)
            self._on_change()

    def _next(self) -> str | None:
        """The feed due first, waiting until it is due; None once stopped."""
        while not self._stopped:
            if self._waiting:
                feed, waiting = min(self._waiting.items(), key=lambda item: item[1].due)
                delay = waiting.due - time.monotonic()
                if delay <= 0:
                    return feed
                self._lock.wait(delay)
            else:
                self._lock.wait()
        return None

    def _send(self, feed: str) -> str | None:
        """POST one notification; the error in a few words, or None."""
        request = urllib.request.Request(
            self.url, data=urlencode({"hub.mode": "publish", "hub.url": feed}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": f"feedd/{__version__}"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # refused, unreachable, timed out, bad reply
            return str(getattr(exc, "reason", exc)) or type(exc).__name__
        return None


class Hubs:
    """Every configured hub, each with its own queue and thread."""

    def __init__(self, config: WebSubConfig):
        self._idle = threading.Condition()
        self._hubs = [_Hub(url, config, self._changed) for url in config.hubs]
        for hub in self._hubs:
            hub.start()

    def __bool__(self) -> bool:
        return bool(self._hubs)

    def notify(self, feeds: Iterable[str]) -> None:
        """Queue a notification of each feed for every hub; returns at once."""
        feeds = list(feeds)
        if feeds:
            for hub in self._hubs:
                hub.add(feeds)

    def stats(self) -> dict[str, int]:
        return {"pending": sum(h.pending() for h in self._hubs), "sent": sum(h.sent for h in self._hubs),
                "failed": sum(h.failed for h in self._hubs)}

    def wait(self, timeout: float) -> bool:
        """Until nothing is left to send (True), or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(h.pending() for h in self._hubs):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        for hub in self._hubs:
            hub.stop()
        for hub in self._hubs:
            hub.join(timeout=1)

    def _changed(self) -> None:
        with self._idle:
            self._idle.notify_all()


def tell_and_wait(config: WebSubConfig, feeds: list[str]) -> dict[str, int]:
    """For a one-off run (``feedd build``): notify, wait for every answer (the retries bound it), stop."""
    hubs = Hubs(config)
    try:
        hubs.notify(feeds)
        hubs.wait(float("inf"))
        return hubs.stats()
    finally:
        hubs.close()
