"""Publish: what to render for what changed (:class:`PublishPlan`, :func:`publish`), and the
only writer of ``feeds/``: atomic, and only when the bytes change.

A reader (our server, nginx, a CDN pulling from disk) sees either the old file
or the new one, never half of one; an unchanged file keeps its mtime and ETag.
Files are written in the order readers follow links: whoever sees a new entry
finds its page and its other feeds already there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from . import __version__, archive, feeds as registry, render
from .config import Config
from .feeds import member_names
from .index import Index
from .model import Document, Feed, stamp
from .render import RenderMemo

log = logging.getLogger(__name__)

FILE_MODE = 0o644
PAGE_SLICE = 500  # article pages rendered per slice: memory stays flat whatever the corpus size
ENTRY_MEMO_BYTES = 64 * 1024 * 1024  # rendered entries kept while many archive pages are rendered
# More archive pages than this in one publish (a build, not a drop: a drop opens one page per
# feed it touches, whose entries the memo's usual size holds) and the memo widens for them.
WIDEN_ABOVE = 16


@dataclass
class PublishPlan:
    """What ``feeds/`` is owed: the feeds whose entries may have changed, the documents that
    changed (archive pages may hold them) and article pages to take down; or everything.

    Changes accumulate in it until a publish succeeds, so a failed one (a full
    disk) is simply tried again with the same plan.
    """

    feeds: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    gone_pages: set[str] = field(default_factory=set)
    everything: bool = False

    @classmethod
    def of(cls, changes, everything: bool = False) -> PublishPlan:
        """From a :class:`feedd.reconcile.SyncReport` (anything with ``feeds``, ``keys``, ``gone_pages``)."""
        plan = cls(everything=everything)
        plan.add(changes)
        return plan

    def add(self, changes) -> None:
        self.feeds |= changes.feeds
        self.keys |= changes.keys
        self.gone_pages |= changes.gone_pages

    def add_documents(self, docs: Iterable[Document]) -> None:
        """Documents whose entries change without a change of their own (an embargo ended)."""
        for doc in docs:
            self.feeds |= member_names(doc)
            self.keys.add(doc.key)

    def __bool__(self) -> bool:
        return bool(self.everything or self.feeds or self.keys or self.gone_pages)

    def clear(self) -> None:
        self.feeds.clear()
        self.keys.clear()
        self.gone_pages.clear()
        self.everything = False


def publish(config: Config, index: Index, now: datetime, plan: PublishPlan | None = None,
            memo: RenderMemo | None = None) -> list[str]:
    """Render and write what ``plan`` owes (no plan: everything); returns the paths written.

    A publish of everything also renders missing article pages and takes down
    pages whose document is gone, so a deleted ``feeds/`` comes back whole.
    On success the plan is settled (emptied); on an error it is left as it was.
    """
    plan = plan if plan is not None else PublishPlan(everything=True)
    memo = memo if memo is not None else RenderMemo()
    out = config.feeds_dir
    out.mkdir(parents=True, exist_ok=True)
    full = plan.everything
    if full:
        remove_stale_temp_files(out)
    with index.batch():
        index.register_feeds(registry.configured(config.topics))
    all_feeds = registry.published(index.feeds(), config.feeds)
    by_name = {feed.name: feed for feed in all_feeds}
    written: list[str] = []
    dirty: set[Path] = set()

    def write(relpath: str, data: bytes) -> None:
        if publish_if_changed(out, relpath, data, dirty):
            written.append(relpath)

    # In the order a reader follows links: the pages' style and script, new
    # article pages, then the feeds that link to them; pages are taken down last.
    if full:
        for name, data in static_files().items():
            write(name, data)
    stamp = page_stamp(config)
    if index.meta("page_stamp") != stamp:
        with index.batch():
            index.reset_pages()
            index.set_meta("page_stamp", stamp)
    articles = out / "articles"
    on_disk = {name for name in os.listdir(articles)} if full and articles.is_dir() else set()
    keys = index.pages_to_render(now, on_disk if full else None)
    for start in range(0, len(keys), PAGE_SLICE):
        pages = index.documents_by_key(keys[start:start + PAGE_SLICE])
        for doc in pages:
            write(render.article_path(doc.key), render.render_article(doc, config.site, by_name))
        with index.batch():
            index.mark_pages(stamp, pages)

    due = []
    for feed in all_feeds:
        if full or feed.name in plan.feeds:
            docs = index.latest(feed, now, config.feeds.max_items)
            size = config.feeds.archive_page_size if registry.kind_of(feed).archives else 0
            last = archive.update(index, feed, docs, config.feeds.max_items, size, plan.keys, whole=full)
            due.append((feed, docs, last))
    # Archive pages first: a current feed links to its newest one.
    _publish_archives(config, index, [(feed, last) for feed, _, last in due], full, write, memo)
    # Everything's feed last: whoever sees a new entry there finds its topic and
    # language feeds already in place.
    for feed, docs, last in sorted(due, key=lambda item: registry.kind_of(item[0]).home):
        for relpath, data in render.render_feed(feed, docs, config.site, config.feeds.full_content,
                                                config.websub.hubs, last, memo).items():
            write(relpath, data)
        if not registry.kind_of(feed).home:  # the home feed's page is index.html, below
            write(registry.page_path(feed),
                  render.render_feed_page(config.site, feed, docs, last, registry.children(feed, all_feeds), memo))

    gone = set(plan.gone_pages)
    if full:
        live = index.published_keys(now)
        gone |= {name[:-5] for name in on_disk if name.endswith(".html") and name[:-5] not in live}
    for key in sorted(gone):
        if not index.is_published(key, now) and unpublish(out, render.article_path(key), dirty):
            written.append(render.article_path(key))

    if full or written:
        latest = index.latest(registry.home(all_feeds), now, config.feeds.max_items)
        write("index.html", render.render_index(config.site, all_feeds, latest, memo))
        for fmt, name in render.OPML_FILES.items():
            write(name, render.render_opml(config.site, all_feeds, fmt))
    sync_folders(dirty)
    plan.clear()
    return written


def _publish_archives(config: Config, index: Index, feeds: list[tuple[Feed, int]], full: bool,
                      write: Callable[[str, bytes], None], memo: RenderMemo) -> None:
    """Render the archive pages marked for it (and, in a full publish, any missing from disk).

    Many pages (a first build) go oldest first across all feeds, with a wide
    entry memo: a document's entry, rendered once, then serves its page in
    every feed it belongs to (bench/archive.py, 10,000 documents: archives
    cost a build 1.55x its time page by page, 1.19x this way).
    """
    stamp = archive_stamp(config)
    work = []
    for feed, last in feeds:
        pages = index.archive_pages(feed)
        folder = (config.feeds_dir / registry.archive_path(feed, 1)).parent
        on_disk = set(os.listdir(folder)) if pages and full and folder.is_dir() else set()
        todo = [page for page, done in pages.items()
                if done != stamp or (full and f"{page}.atom" not in on_disk)]
        starts = index.archive_page_starts(feed, todo) if len(todo) > 1 else {}
        work += [(starts.get(page, 0), feed.name, page, feed, last) for page in todo]
    if not work:
        return
    work.sort(key=lambda item: item[:3])
    with memo.entries.widened(ENTRY_MEMO_BYTES if len(work) > WIDEN_ABOVE else None):
        for _, _, page, feed, last in work:
            docs = index.archive_page(feed, page)
            write(registry.archive_path(feed, page),
                  render.render_archive(feed, page, last, docs, config.site, config.feeds.full_content, memo))
    with index.batch():
        for _, _, page, feed, _ in work:
            index.mark_archive_page(feed, page, stamp)


def page_stamp(config: Config) -> str:
    """What article pages are made from besides the document: change it, re-render them all."""
    switched_on = [kind.name for kind in registry.KINDS if registry.is_enabled(kind, config.feeds)]
    return stamp(__version__, repr(config.site), repr(config.topics), repr(switched_on), _templates_digest())


def archive_stamp(config: Config) -> str:
    """What archive pages are made from besides their documents: change it, re-render them all."""
    return stamp(__version__, repr(config.site), repr(config.feeds.full_content))


@lru_cache(maxsize=1)
def static_files() -> dict[str, bytes]:
    """The pages' stylesheet and script, shared by every page (not inlined 100,000 times)."""
    folder = resources.files("feedd").joinpath("static")
    return {item.name: item.read_bytes() for item in folder.iterdir() if not item.name.startswith(".")}


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    digest = hashlib.sha256()
    for item in sorted(resources.files("feedd").joinpath("templates").iterdir(), key=lambda p: p.name):
        digest.update(item.read_bytes())
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes, dirty: set[Path] | None = None) -> None:
    """Temp file in the same folder, fsync, rename over, fsync the folder.

    With ``dirty``, the folder's fsync is left to :func:`sync_folders`, once
    for many files: the rename is atomic either way, only its durability waits.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if dirty is None:
        _fsync_dir(path.parent)
    else:
        dirty.add(path.parent)


def sync_folders(dirty: set[Path]) -> None:
    for folder in sorted(dirty):
        _fsync_dir(folder)
    dirty.clear()


def publish_if_changed(root: Path, relpath: str, data: bytes, dirty: set[Path] | None = None) -> bool:
    """Write ``root/relpath`` unless it already holds exactly ``data``."""
    path = root / relpath
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, dirty)
    return True


def unpublish(root: Path, relpath: str, dirty: set[Path] | None = None) -> bool:
    path = root / relpath
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    if dirty is None:
        _fsync_dir(path.parent)
    else:
        dirty.add(path.parent)
    return True


def remove_stale_temp_files(root: Path) -> int:
    """Temp files a crash left behind (they are hidden, so never served)."""
    removed = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if name.startswith(".") and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
