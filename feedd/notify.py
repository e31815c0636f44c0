"""The systemd notify protocol: one datagram per message to ``$NOTIFY_SOCKET``.

The protocol is a single ``sendto`` (sd_notify(3)); the PyPI wrappers for it
are unmaintained or need libsystemd's headers, so feedd speaks it directly.
Without ``NOTIFY_SOCKET`` (not under systemd) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] = os.environ):
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.watchdog_seconds = _watchdog_seconds(environ)

    def send(self, *lines: str) -> None:
        if not self._socket:
            return
        try:
            self._socket.sendto("\n".join(lines).encode("utf-8"), self._address)
        except OSError as exc:
            log.debug("notify: %s", exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._socket:
            self._socket.close()
            self._socket = None


def _watchdog_seconds(environ: Mapping[str, str]) -> float | None:
    """The watchdog period, if systemd asked this very process for pings."""
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000
    except ValueError:
        return None
