"""Serve ``feeds/`` over HTTP, read-only: aiohttp's low-level server in its own thread.

aiohttp parses HTTP (llhttp), keeps connections alive and never lets a slow
client hold up the others; this module decides which file a path may name,
and answers with validators (ETag, Last-Modified), gzip and cache headers.
Files are cached in memory by (inode, size, mtime), so a feed rewritten by
an atomic rename is picked up on the next request, whole.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web
from cachetools import LRUCache

from .feeds import GONE_MAP, MOVED_MAP

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Text only: images are compressed already.
COMPRESSIBLE = frozenset(suffix for suffix, kind in CONTENT_TYPES.items() if not kind.startswith("image/"))
MIN_GZIP_BYTES = 256
CACHE_BYTES = 16 * 1024 * 1024  # the hot feeds and their gzip; the kernel's page cache keeps the rest
_FORBIDDEN_ESCAPES = re.compile(r"%(?:00|2f|5c)", re.IGNORECASE)
_ARCHIVE_PAGE = re.compile(r"/archive/[0-9]+\.atom$")


@dataclass(frozen=True)
class CachedFile:
    identity: tuple[int, int, int, int]  # device, inode, size, mtime_ns
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: datetime
    content_type: str
    closed: bool  # an RFC 5005 archive page with a successor: it will not change


def resolve(root: str, raw_path: str) -> str | None:
    """The real path of the file ``raw_path`` names under ``root``, or None.

    Refuses rather than normalises: ``..`` and ``.`` segments, hidden names
    (temporary files start with a dot), doubled, encoded or back slashes, NUL,
    malformed UTF-8 (overlong forms included) and anything a symlink leads out of.
    """
    path = raw_path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") or _FORBIDDEN_ESCAPES.search(path):
        return None
    try:
        decoded = unquote(path, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None
    if decoded == "/":
        decoded = "/index.html"
    if "\x00" in decoded or "\\" in decoded:
        return None
    parts = decoded[1:].split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    real = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, real]) != root:
        return None
    return real


def accepts_gzip(header: str) -> bool:
    """True when ``Accept-Encoding`` allows gzip (a q of 0 refuses it)."""
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


class FileCache:
    """Recently served files, bounded in bytes (cachetools' LRU); always checked against a fresh stat."""

    def __init__(self, limit: int = CACHE_BYTES):
        self._files: LRUCache = LRUCache(maxsize=limit, getsizeof=_cached_size)

    def get(self, path: str) -> CachedFile | None:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # directories are never listed
        identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._files.get(path)
        if cached and cached.identity == identity:
            return cached
        cached = self._load(path)
        if cached is not None:
            try:
                self._files[path] = cached
            except ValueError:  # larger than the whole cache: served, not kept
                self._files.pop(path, None)
        return cached

    def _load(self, path: str) -> CachedFile | None:
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())  # what we read is what this stat describes
                body = fh.read()
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            return None
        suffix = os.path.splitext(path)[1].lower()
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        compress = suffix in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES
        return CachedFile(
            identity=(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns),
            body=body,
            gzipped=gzip.compress(body, compresslevel=6, mtime=0) if compress else None,
            etag=f'"{digest}"',
            # The end of the second the file was written in: Last-Modified has one-second resolution.
            last_modified=datetime.fromtimestamp(-(-st.st_mtime_ns // 1_000_000_000), timezone.utc),
            content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
            closed=_is_closed_archive(path, body),
        )



def _cached_size(cached: CachedFile) -> int:
    return len(cached.body) + len(cached.gzipped or b"")


def _is_closed_archive(path: str, body: bytes) -> bool:
    """An archive page that links to a later one: full, and its entries stay (feedd never moves them)."""
    if not _ARCHIVE_PAGE.search(path):
        return False
    head = body[:body.find(b"<entry")] if b"<entry" in body else body
    return b'rel="next-archive"' in head


def not_modified(request: web.BaseRequest, cached: CachedFile, etags: tuple[str, ...]) -> bool:
    """RFC 9110: If-None-Match wins; else If-Modified-Since (for GET and HEAD).

    Last-Modified is the end of the second the file was written in, and only given once that
    second is over; If-Modified-Since is compared with the file's time to the nanosecond. So a
    copy's date is never earlier than the copy, and any later rewrite is later than that date.
    """
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or bool(tags.intersection(etags))
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        # Compared with the file's own time, to the nanosecond: a file rewritten within the second
        # of the client's date (its Last-Modified, or the Date it was sent with) is newer than its copy.
        return cached.identity[3] <= int(since.timestamp()) * 1_000_000_000
    return False


class Routes:
    """Retired (410) and renamed (301) feeds: the map files publishing writes for nginx, read
    again whenever they change, so that both servers answer alike."""

    def __init__(self, root: str):
        self.root = root
        self._seen: tuple = ()
        self.gone: frozenset[str] = frozenset()
        self.moved: dict[str, str] = {}

    def lookup(self, path: str) -> tuple[int, str | None] | None:
        """(410, None), (301, new path), or None for a plain 404."""
        self._refresh()
        if path in self.gone:
            return 410, None
        if path in self.moved:
            return 301, self.moved[path]
        return None

    def _refresh(self) -> None:
        stats = tuple(_stat_key(os.path.join(self.root, name)) for name in (GONE_MAP, MOVED_MAP))
        if stats == self._seen:
            return
        self._seen = stats
        self.gone = frozenset(key for key, _ in _map_entries(os.path.join(self.root, GONE_MAP)))
        self.moved = dict(_map_entries(os.path.join(self.root, MOVED_MAP)))


def _stat_key(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _map_entries(path: str) -> list[tuple[str, str]]:
    """``key value;`` lines of an nginx map file that feedd wrote."""
    try:
        with open(path, encoding="utf-8") as lines:
            return [tuple(line.rstrip().rstrip(";").split(" ", 1)) for line in lines if line.strip()]
    except (OSError, ValueError):
        return []


class FeedServer:
    """The HTTP server over ``root``, on its own thread and event loop."""

    def __init__(self, root: Path, host: str, port: int, health: Callable[[], dict] | None = None,
                 max_age: int = 60, archive_max_age: int = 60):
        self.root = os.path.realpath(root)
        self.host = host
        self.port = port
        self.max_age = max_age
        self.archive_max_age = archive_max_age
        self._health = health or (lambda: {"status": "ok"})
        self._cache = FileCache()
        self._routes = Routes(self.root)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind and serve; returns once listening (raises if it cannot bind)."""
        self._thread = threading.Thread(target=self._run, name="feedd-http")
        self._thread.start()
        self._ready.wait()
        if self._error:
            raise self._error

    def stop(self) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:  # report a failed bind to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _start(self) -> None:
        server = web.Server(self.handle, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def _not_here(self, request: web.BaseRequest) -> web.Response:
        try:
            path = unquote(request.raw_path.split("?", 1)[0], errors="strict")
        except UnicodeDecodeError:
            path = ""
        route = self._routes.lookup(path)
        if route is None:
            return web.Response(status=404, text="not found\n")
        status, location = route
        if status == 410:  # FreshRSS and others stop polling a feed that is gone
            return web.Response(status=410, text="gone: this feed was retired\n")
        return web.Response(status=301, text=f"moved to {location}\n", headers={"Location": location})

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.version < (1, 0):  # a request line without a version (or a smuggled CRLF)
            return web.Response(status=400, text="bad request\n", headers={"Connection": "close"})
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="method not allowed\n", headers={"Allow": "GET, HEAD"})
        if request.raw_path.split("?", 1)[0] == "/healthz":
            return web.Response(text=json.dumps(self._health()) + "\n", content_type="application/json",
                                headers={"Cache-Control": "no-store"})
        path = resolve(self.root, request.raw_path)
        cached = self._cache.get(path) if path else None
        if cached is None:
            return self._not_here(request)
        use_gzip = cached.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", ""))
        etag = cached.etag[:-1] + '-gz"' if use_gzip else cached.etag
        headers = {
            "Content-Type": cached.content_type,
            "ETag": etag,

            "Cache-Control": f"public, max-age={self.archive_max_age if cached.closed else self.max_age}",
            "X-Content-Type-Options": "nosniff",
        }
        if cached.last_modified <= datetime.now(timezone.utc):
            # Never a date still to come (RFC 9110 8.8.2.1): within the second the file was
            # written, ETag only.
            headers["Last-Modified"] = format_datetime(cached.last_modified, usegmt=True)
        if cached.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if not_modified(request, cached, (cached.etag, cached.etag[:-1] + '-gz"')):
            return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=cached.gzipped if use_gzip else cached.body, headers=headers)
