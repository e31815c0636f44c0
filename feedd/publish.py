"""Publish: what to render for what changed (:class:`PublishPlan`, :func:`publish`), and the
only writer of ``feeds/``: atomic, and only when the bytes change.

A reader (our server, nginx, a CDN pulling from disk) sees either the old file
or the new one, never half of one; an unchanged file keeps its mtime and ETag.
Files are written in the order readers follow links: whoever sees a new entry
finds its page and its other feeds already there.
"""

from __future__ import annotations

import ctypes
import hashlib
import itertools
import logging
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path

from . import __version__, archive, icons, render
from . import feeds as registry
from .config import Config
from .feeds import member_names
from .index import Index
from .model import Document, Feed, stamp
from .render import RenderMemo
from .workers import Workers

log = logging.getLogger(__name__)

FILE_MODE = 0o644
PAGE_SLICE = 500  # article pages loaded from the index at a time: memory stays flat whatever the corpus size
PAGE_CHUNK = 25  # article pages a worker renders per call
PAGE_CHUNKS_IN_FLIGHT = 2 * PAGE_SLICE // PAGE_CHUNK  # rendering ahead of the writing, at most
MEMO_BYTES = 64 * 1024 * 1024  # rendered entries (and list items) kept through a whole publish
IN_FLIGHT = 64  # files handed to the threads and not yet on disk, at most
TRASH = ".trash"  # files replaced by a flush, until freed (see _Aside)
WRITER_THREADS = 8  # files created at once: creating one waits on the disk, not on Python
BATCH_FILES = 2000  # files made durable together, with one barrier (a build writes them by the ten thousand)


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
            memo: RenderMemo | None = None, settles: bool = True,
            threads: ThreadPoolExecutor | None = None) -> list[str]:
    """Render and write what ``plan`` owes (no plan: everything); returns the paths written.

    A publish of everything also renders missing article pages and takes down
    pages whose document is gone, so a deleted ``feeds/`` comes back whole.
    On success the plan is emptied, and the index told feeds/ shows all of it
    (:func:`settle`) unless ``settles`` is False (a daemon still catching up);
    on an error the plan is left as it was. ``threads``: the writer's (:func:`writer_threads`), kept
    by a caller that publishes again and again; without, each publish starts its own.
    """
    plan = plan if plan is not None else PublishPlan(everything=True)
    run = Publication(config, index, now, plan, memo if memo is not None else RenderMemo(), threads)
    try:
        run.publish()
        run.writer.flush()
    except BaseException:
        run.writer.discard()
        raise
    plan.clear()
    if settles:
        settle(index, config, now)
    return run.writer.written


# Index meta: "<publish stamp> <time>" while feeds/ shows the whole index, "" while a publish is owed.
PUBLISHED = "published"


def publish_stamp(config: Config) -> str:
    """What feeds/ is made from besides the index: under another, a start-up publishes everything.
    Not where it is served or how the daemon runs (``feedd run --port`` after a build changes nothing)."""
    made_of = (config.site, config.input, config.feeds, config.language, config.websub, config.topics)
    return stamp(__version__, repr(made_of), _templates_digest())


def owe(index: Index) -> None:
    """Said before the index changes: until a publish settles, feeds/ may lag behind it (a crash
    then, and the next start-up publishes everything)."""
    _set_meta(index, PUBLISHED, "")


def settle(index: Index, config: Config, now: datetime) -> None:
    """feeds/ shows the whole index as of ``now``."""
    _set_meta(index, PUBLISHED, f"{publish_stamp(config)} {now.isoformat()}")


def settled_at(index: Index, config: Config) -> datetime | None:
    """When feeds/ last showed the whole index, made as ``config`` makes it; None when a publish
    is owed, or the index was settled under another configuration or version."""
    made, _, at = (index.meta(PUBLISHED) or "").partition(" ")
    return datetime.fromisoformat(at) if at and made == publish_stamp(config) else None


class Publication:
    """One publish: what the plan owes, rendered and handed to one :class:`Writer`.

    Files go out in the order a reader follows links: the pages' style and
    script, new article pages, archive pages, then the feeds that link to
    them (everything's last, so whoever sees a new entry there finds its
    other feeds in place), the front page; pages of removed documents are
    taken down last. Many article pages are rendered by worker processes
    while this process renders the rest, which is held back until they are
    written (:class:`Held`).
    """

    def __init__(self, config: Config, index: Index, now: datetime, plan: PublishPlan, memo: RenderMemo,
                 threads: ThreadPoolExecutor | None = None):
        self.config, self.index, self.now, self.plan, self.memo = config, index, now, plan, memo
        self.full = plan.everything
        out = config.feeds_dir
        out.mkdir(parents=True, exist_ok=True)
        if self.full:
            remove_stale_temp_files(out)
        with index.batch():
            index.register_feeds(registry.configured(config.topics), from_rules=True)
            registered = index.feeds()
            gone, self.moved = registry.retired(registered, index.rule_feeds(), config.topics, config.feeds,
                                                index.has_members)
        self.registered = {feed.name: feed for feed in registered}
        self.gone = {feed.name: feed for feed in gone}
        self.feeds = [feed for feed in registry.published(registered, config.feeds)
                      if feed.name not in self.gone and feed.name not in self.moved]
        self.by_name = {feed.name: feed for feed in self.feeds}
        self.children = registry.children(self.feeds)
        self.writer = Writer(out, threads=threads)
        self.out: Writer | Held = self.writer  # where what follows the article pages goes
        self.pump: Callable[[], None] = lambda: None
        articles = out / "articles"
        self.on_disk = set(os.listdir(articles)) if self.full and articles.is_dir() else set()

    def publish(self) -> None:
        if self.full:
            for name, data in static_files(self.config).items():
                self.writer.write(name, data)
            self.routes()
        with self.article_pages() as pages:
            # What links to the article pages waits for them, staged, while the workers still render them.
            self.out = self.writer if pages.done else self.writer.held()
            self.pump = pages.pump
            due = self.due_feeds()
            self.pump()
            # Widened for a whole publish only: a daemon's drop would keep the memory it took.
            with self.memo.widened(MEMO_BYTES if self.full else None):
                self.archive_pages([(feed, last) for feed, _, last, _ in due])  # a current feed links to its newest page
                for feed, docs, last, emptied in sorted(due, key=lambda item: registry.kind_of(item[0]).home):
                    self.feed(feed, docs, last, emptied)
                    self.pump()
            self.take_down()
            pages.finish()
        if self.out is not self.writer:
            self.out.release()
        # Due feeds make it due without waiting for their files' staging (``written``): it lists the
        # home feed's entries and every feed, and is written, as any file, only if its bytes change.
        if self.full or due or self.writer.written:
            self.front(next((docs for feed, docs, _, _ in due if registry.kind_of(feed).home), None))

    def article_pages(self) -> _Pages:
        """The article pages to render, on their way: see :class:`_Pages`."""
        config, index = self.config, self.index
        stamp = page_stamp(config)
        index.stamp_pages(stamp)
        keys = index.pages_to_render(self.now, self.on_disk if self.full else None)
        render_page = partial(render.render_article, site=config.site, feeds=self.by_name)
        return _Pages(index, self.writer, keys, render_page, stamp)

    def due_feeds(self) -> list[tuple[Feed, list[Document], int, datetime | None]]:
        """The feeds to render, their current entries, newest archive page (archives updated),
        and when each feed without entries was emptied."""
        config, index = self.config, self.index
        due = []
        with index.batch():
            for feed in self.feeds:
                if self.full or feed.name in self.plan.feeds:
                    docs = index.latest(feed, self.now, config.feeds.max_items)
                    size = config.feeds.archive_page_size if registry.kind_of(feed).archives else 0
                    last = archive.update(index, feed, docs, config.feeds.max_items, size, self.plan.keys,
                                          whole=self.full)
                    due.append((feed, docs, last, index.emptied(feed, self.now, not docs)))
        return due

    def archive_pages(self, feeds: list[tuple[Feed, int]]) -> None:
        """Render the archive pages marked for it (and, in a full publish, any missing from disk).

        Many pages (a first build) go oldest first across all feeds, and a whole
        publish widens the memo: a document's entry, rendered once, then serves
        its page in every feed it belongs to, and the current feeds after them
        (bench/archive.py, 10,000 documents: archives cost a build 1.55x its
        time page by page, 1.19x this way).
        """
        config, index = self.config, self.index
        stamp = archive_stamp(config)
        index.stamp_archive_pages(stamp)
        work = []
        for feed, last in feeds:
            pages = index.archive_pages(feed, unrendered=not self.full)
            folder = (config.feeds_dir / registry.archive_path(feed, 1)).parent
            on_disk = set(os.listdir(folder)) if pages and self.full and folder.is_dir() else set()
            todo = [page for page, done in pages.items()
                    if done != stamp or (self.full and f"{page}.atom" not in on_disk)]
            starts = index.archive_page_starts(feed, todo) if len(todo) > 1 else {}
            work += [(starts.get(page, 0), feed.name, page, feed, last) for page in todo]
        if not work:
            return
        work.sort(key=lambda item: item[:3])
        for _, _, page, feed, last in work:
            docs = self.archive_page(feed, page)
            self.out.write(registry.archive_path(feed, page),
                           render.render_archive(feed, page, last, docs, config.site,
                                                 config.feeds.full_content, self.memo, self.now))
            self.pump()
        self.out.then(partial(_mark_archive_pages, index, [(feed, page) for _, _, page, feed, _ in work], stamp))

    def archive_page(self, feed: Feed, page: int) -> list[Document]:
        """An archive page's documents: their text is loaded only for entries the memo does not hold
        (a drop re-renders each open page of its feeds, whose other hundred entries are the same)."""
        config, entries = self.config, self.memo.entries
        docs = self.index.archive_page(feed, page, text=False)
        missing = [doc.key for doc in entries.missing(docs, config.site, "atom", config.feeds.full_content)]
        if not missing:
            return docs
        loaded = {doc.key: doc for doc in self.index.documents_by_key(missing)}
        return [loaded.get(doc.key, doc) for doc in docs]

    def feed(self, feed: Feed, docs: list[Document], last: int, emptied: datetime | None = None) -> None:
        config = self.config
        for relpath, data in render.render_feed(feed, docs, config.site, config.feeds.full_content,
                                                config.websub.hubs, last, self.memo, emptied).items():
            self.out.write(relpath, data)
        if not registry.kind_of(feed).home:  # the home feed's page is index.html: front()
            self.out.write(registry.page_path(feed), render.render_feed_page(
                config.site, feed, docs, last, self.children.get(feed.name, ()), self.memo))

    def take_down(self) -> None:
        """Article pages of documents no longer published (removed, rejected, moved to another key)."""
        index = self.index
        gone = set(self.plan.gone_pages)
        if self.full:
            live = index.published_keys(self.now)
            gone |= {name[:-5] for name in self.on_disk if name.endswith(".html") and name[:-5] not in live}
        for key in sorted(gone):
            if not index.is_published(key, self.now):
                self.out.remove(render.article_path(key))

    def routes(self) -> None:
        """Retired feeds answer 410 Gone and renamed ones 301 (FreshRSS stops polling on a 410),
        from the map files both servers read; the old files are taken down."""
        index, gone, moved = self.index, [], {}
        for feed in self.gone.values():
            gone += registry.files(feed, len(index.archive_pages(feed)))
        for name, new in self.moved.items():
            old = self.registered.get(name) or Feed(name, new.kind, new.title)
            moved.update(registry.moved_files(old, new, len(index.archive_pages(old))))
        for path in [*gone, *moved]:
            if (self.config.feeds_dir / path).exists():
                self.writer.remove(path)
        for path, data in render.render_routes(gone, moved).items():
            self.writer.write(path, data)

    def front(self, latest: list[Document] | None = None) -> None:
        """The front page and the OPML files: they list every feed. ``latest``: the home feed's
        current entries, when they are at hand."""
        config = self.config
        if latest is None:
            latest = self.index.latest(registry.home(self.feeds), self.now, config.feeds.max_items)
        self.writer.write("index.html", render.render_index(config.site, self.feeds, latest, self.memo))
        # The OPML files list feeds, not articles: made again when the list (or the site) changes.
        listed = stamp(__version__, repr(config.site), *(f"{f.name}\t{f.kind}\t{f.title}" for f in self.feeds))
        if self.full or self.index.meta("opml_stamp") != listed:
            for path, data in render.render_opml_files(config.site, self.feeds).items():
                self.writer.write(path, data)
            self.writer.then(partial(_set_meta, self.index, "opml_stamp", listed))


class _Pages:
    """Article pages rendered by worker processes (a build, a burst) while this process renders
    what links to them. A worker also writes each page's temporary file (creating a file costs
    about what rendering the page does, and on this process's writer threads it held up the
    rendering here), and this process puts them in the writer's order as they come
    (:meth:`pump`), a slice of documents at a time, so that memory stays flat whatever the
    corpus size. Without workers (a drop), each page is rendered here and handed to the writer
    at once."""

    def __init__(self, index: Index, writer: Writer, keys: list[str], render_page: Callable[[Document], bytes],
                 stamp: str):
        self.index, self.writer, self.stamp = index, writer, stamp
        self.slices = [keys[start:start + PAGE_SLICE] for start in range(0, len(keys), PAGE_SLICE)]
        self.slices.reverse()  # taken from the end
        self.flight: deque[tuple[Future, list[Document] | None]] = deque()
        self.workers = Workers(len(keys))
        self.apart = self.workers.pool is not None
        self.make = partial(_staged_page, render_page=render_page, root=writer.root) if self.apart else \
            partial(_page, render_page=render_page)
        self.pump()

    @property
    def done(self) -> bool:
        return not self.slices and not self.flight

    def pump(self, wait: bool = False) -> None:
        """Hand the writer the pages made so far (``wait``: all of them), and keep the workers busy."""
        while True:
            while self.flight and (wait or self.flight[0][0].done()):
                future, whole_slice = self.flight.popleft()
                for relpath, made in future.result():
                    if self.apart:
                        self.writer.adopt(relpath, made)
                    else:
                        self.writer.write(relpath, made)
                if whole_slice is not None:
                    self.writer.then(partial(_mark_pages, self.index, self.stamp, whole_slice))
            if not self.slices or len(self.flight) >= PAGE_CHUNKS_IN_FLIGHT:
                return
            docs = self.index.documents_by_key(self.slices.pop())
            chunks = [docs[start:start + PAGE_CHUNK] for start in range(0, len(docs), PAGE_CHUNK)]
            for n, chunk in enumerate(chunks, 1):
                self.flight.append((self.workers.submit(self.make, chunk), docs if n == len(chunks) else None))

    def finish(self) -> None:
        while not self.done:
            self.pump(wait=True)

    def __enter__(self) -> _Pages:
        return self

    def __exit__(self, error_type, *exc) -> None:
        self.workers.close()
        if error_type is not None and self.apart:  # temporary files the workers made for nothing
            for future, _ in self.flight:
                if future.done() and not future.cancelled() and future.exception() is None:
                    for _, tmp in future.result():
                        if tmp is not None:
                            _unlink(tmp)


def _page(doc: Document, render_page: Callable[[Document], bytes]) -> tuple[str, bytes]:
    return render.article_path(doc.key), render_page(doc)


def _staged_page(doc: Document, render_page: Callable[[Document], bytes], root: Path) -> tuple[str, str | None]:
    """In a worker: the page rendered and in its temporary file (see :func:`_stage`)."""
    relpath, page = _page(doc, render_page)
    return relpath, _stage(os.path.join(root, relpath), page)


def _set_meta(index: Index, name: str, value: str) -> None:
    with index.batch():
        index.set_meta(name, value)


def _mark_pages(index: Index, stamp: str, pages: list[Document]) -> None:
    with index.batch():
        index.mark_pages(stamp, pages)


def _mark_archive_pages(index: Index, pages: list[tuple[Feed, int]], stamp: str) -> None:
    with index.batch():
        for feed, page in pages:
            index.mark_archive_page(feed, page, stamp)


def page_stamp(config: Config) -> str:
    """What article pages are made from besides the document: change it, re-render them all."""
    switched_on = [kind.name for kind in registry.KINDS if registry.is_enabled(kind, config.feeds)]
    return stamp(__version__, repr(config.site), repr(config.topics), repr(switched_on), _templates_digest())


def archive_stamp(config: Config) -> str:
    """What archive pages are made from besides their documents: change it, re-render them all."""
    return stamp(__version__, repr(config.site), repr(config.feeds.full_content))


@lru_cache(maxsize=1)
def static_files(config: Config) -> dict[str, bytes]:
    """The pages' stylesheet and script, shared by every page (not inlined 100,000 times),
    and the site's icons."""
    folder = resources.files("feedd").joinpath("static")
    files = {item.name: item.read_bytes() for item in folder.iterdir() if not item.name.startswith(".")}
    site = config.site
    files.update(icons.site_images(icons.source_bytes(config.root, site.icon, icons.ICON),
                                   icons.source_bytes(config.root, site.logo, icons.LOGO)))
    return files


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    digest = hashlib.sha256()
    for item in sorted(resources.files("feedd").joinpath("templates").iterdir(), key=lambda p: p.name):
        digest.update(item.read_bytes())
    return digest.hexdigest()


class Writer:
    """The only writer of ``feeds/``: each file only when its bytes change, atomically, durably, in batches.

    :meth:`write` puts the new bytes in a hidden temporary file beside the
    target (on a few threads: creating a file here waits on the disk far
    more than on Python); :meth:`flush` makes every file of the batch
    durable at once (one ``syncfs``, not one ``fsync`` a file), then renames
    them over their targets in the order they were written (the order
    readers follow links), takes down what :meth:`remove` named, and makes
    the renames durable. A reader sees the old file or the new one, never
    half of one; a crash leaves hidden temporary files, removed at the next
    start. State that says a file is in place (the index's render stamps)
    is recorded through :meth:`then`, after the flush that puts it there.
    ``threads``: the caller's (:func:`writer_threads`); without, the writer
    starts its own and stops them at each flush.
    """

    def __init__(self, root: Path, batch_files: int = BATCH_FILES, threads: ThreadPoolExecutor | None = None):
        self.root = root
        self.batch_files = batch_files
        self._written: list[str] = []  # paths under root whose bytes changed (or that were removed)
        self._pending: list[tuple[str, Future | None]] = []  # in call order: a write's staging, or a removal
        self._staged: list[tuple[str, str]] = []  # (temporary file, target), in call order
        self._removed: list[str] = []
        self._after: list[Callable[[], None]] = []
        self._threads = threads
        self._own_threads = threads is None
        self._holds: list[Held] = []

    @property
    def written(self) -> list[str]:
        self._settle()
        return list(self._written)

    def write(self, relpath: str, data: bytes) -> None:
        self._add(relpath, self._submit(relpath, data))

    def adopt(self, relpath: str, tmp: str | None) -> None:
        """As :meth:`write`, for a file another process staged already (``tmp``, or None: unchanged)."""
        staged: Future = Future()
        staged.set_result(tmp)
        self._add(relpath, staged)

    def held(self) -> Held:
        """Where to write what must land after files not written yet: see :class:`Held`."""
        held = Held(self)
        self._holds.append(held)
        return held

    def _submit(self, relpath: str, data: bytes) -> Future:
        if self._threads is None:
            self._threads = writer_threads()
        return self._threads.submit(_stage, os.path.join(self.root, relpath), data)

    def _add(self, relpath: str, staging: Future | None) -> None:
        self._pending.append((relpath, staging))
        if len(self._pending) >= IN_FLIGHT:
            self._settle()  # bounded: the bytes of files not yet on disk are held in memory
        if len(self._pending) + len(self._staged) >= self.batch_files:
            self.flush()

    def remove(self, relpath: str) -> None:
        """Take ``relpath`` down at the next flush, after the files written before it are in place."""
        self._pending.append((relpath, None))

    def then(self, action: Callable[[], None]) -> None:
        """Run ``action`` once everything written so far is in place (at once if nothing is pending)."""
        if self._pending or self._staged or self._removed:
            self._after.append(action)
        else:
            action()

    def flush(self) -> None:
        self._settle()
        if self._staged:
            _make_durable(self.root, [tmp for tmp, _ in self._staged])  # on error, discard() still knows them
        folders: set[str] = set()
        aside = _Aside(self.root)
        renamed = 0
        try:
            for tmp, path in self._staged:
                aside.keep(path)
                os.replace(tmp, path)
                folders.add(os.path.dirname(path))
                renamed += 1
            removed, after = self._removed, self._after
            self._removed, self._after = [], []
            for path in removed:
                if aside.take(path):
                    folders.add(os.path.dirname(path))
            if folders:
                _make_renames_durable(self.root, folders)
        finally:
            del self._staged[:renamed]
            self._free(aside.names)
            self._stop_threads()
        for action in after:
            action()

    def _free(self, names: list[str]) -> None:
        """Free the files set aside, on the writer's threads when there are any: a caller that
        keeps them (the daemon) does not wait for it."""
        if not names:
            return
        try:
            if self._threads is not None:
                self._threads.submit(_unlink_all, names)
                return
        except RuntimeError:  # shut down (a daemon stopping): here, then
            pass
        _unlink_all(names)

    def discard(self) -> None:
        """After an error: the temporary files of the unfinished batch go (nothing else changed)."""
        try:
            self._settle()
        except Exception:
            pass  # the error being handled already says it
        for held in self._holds:
            held.discard()
        self._stop_threads()
        _unlink_all([tmp for tmp, _ in self._staged])
        self._staged, self._removed, self._after, self._holds = [], [], [], []

    def _settle(self) -> None:
        """Wait for the staging under way, in call order; every temporary file made is known
        (for :meth:`discard`) before the first error, if any, is raised."""
        pending, self._pending = self._pending, []
        error: BaseException | None = None
        for relpath, future in pending:
            if future is None:
                path = os.path.join(self.root, relpath)
                if os.path.exists(path):
                    self._removed.append(path)
                    self._written.append(relpath)
                continue
            try:
                tmp = future.result()
            except BaseException as exc:
                error = error or exc
                continue
            if tmp is not None:
                self._staged.append((tmp, os.path.join(self.root, relpath)))
                self._written.append(relpath)
        if error is not None:
            raise error

    def _stop_threads(self) -> None:
        if self._own_threads and self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None


class Held:
    """Writes, removals and actions that must come after files not written yet (the feeds that
    link to article pages the workers still render): each file is staged at once, like any
    other, but joins the writer's order, and so any flush, only at :meth:`release`."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self._items: list[tuple[str, Future | None] | Callable[[], None]] = []
        self._unsettled: list[Future] = []

    def write(self, relpath: str, data: bytes) -> None:
        staging = self.writer._submit(relpath, data)
        self._items.append((relpath, staging))
        self._unsettled.append(staging)
        if len(self._unsettled) >= IN_FLIGHT:  # bounded, as the writer's own
            for future in self._unsettled:
                future.result()
            self._unsettled = []

    def remove(self, relpath: str) -> None:
        self._items.append((relpath, None))

    def then(self, action: Callable[[], None]) -> None:
        self._items.append(action)

    def release(self) -> None:
        """Into the writer's order, now: after everything written to it so far."""
        items, self._items, self._unsettled = self._items, [], []
        self.writer._holds.remove(self)
        for item in items:
            if callable(item):
                self.writer.then(item)
            else:
                self.writer._add(*item)

    def discard(self) -> None:
        for item in self._items:
            if not callable(item) and item[1] is not None:
                try:
                    tmp = item[1].result()
                except BaseException:
                    continue  # nothing was made, or the error being handled says it
                if tmp is not None:
                    _unlink(tmp)
        self._items, self._unsettled = [], []


def writer_threads() -> ThreadPoolExecutor:
    """Threads for a :class:`Writer` to create files on; a caller that publishes again and again
    (the daemon) keeps them, and shuts them down: a drop writes ~40 files, and starting the
    threads for each took longer than some of its stages."""
    return ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="feedd-write")


def _stage(path: str, data: bytes) -> str | None:
    """The new bytes in a temporary file beside ``path``; None when ``path`` holds them already.

    In as few system calls as it takes: on the writer's threads each one gives the GIL up,
    and taking it back waits on the rendering going on meanwhile."""
    try:
        if os.stat(path).st_size == len(data):
            with open(path, "rb") as fh:
                if fh.read() == data:
                    return None
    except FileNotFoundError:
        pass
    try:
        fd, tmp = _temp_file(path)
    except FileNotFoundError:  # its folder is new
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = _temp_file(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            _start_writeback(fd)
            if not _umask_keeps_mode():
                os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _temp_file(path: str) -> tuple[int, str]:
    """A new hidden file beside ``path``, named as :func:`remove_stale_temp_files` finds them,
    created in one system call."""
    folder, name = os.path.split(path)
    while True:
        tmp = _temp_name(folder, f"{name}.")
        try:
            return os.open(tmp, _CREATE, FILE_MODE), tmp
        except FileExistsError:  # left by a crash
            continue


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _temp_name(folder: str, prefix: str = "") -> str:
    """A name no other file of this process has, hidden and ending in ``.tmp`` (what
    :func:`remove_stale_temp_files` removes after a crash): a random stem drawn once per
    process and a count, rather than random letters drawn for each file."""
    stem, count = _temp_names(os.getpid())
    return f"{folder}/.{prefix}{stem}{next(count)}.tmp"


@lru_cache(maxsize=1)
def _temp_names(pid: int) -> tuple[str, Iterator[int]]:
    """By the process's id: a forked worker draws its own."""
    return f"{uuid.uuid4().hex}-", itertools.count()


@lru_cache(maxsize=1)
def _umask_keeps_mode() -> bool:
    """Whether a file created with FILE_MODE has it (the usual umask, 022), so that no ``fchmod``
    is needed. Linux says the umask in /proc; ``os.umask`` reads it only by changing it."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & FILE_MODE == 0
    except (OSError, ValueError):
        pass
    return False


def _start_writeback(fd: int) -> None:
    """Have the disk start writing a new file now (Linux: sync_file_range(2), SYNC_FILE_RANGE_WRITE:
    no waiting, no journal commit), while the rest is rendered, so that the flush's barrier
    finds less left to write. Durability is still the barrier's; elsewhere, nothing is done."""
    start = _sync_file_range()
    if start is not None:
        start(fd, 0, 0, SYNC_FILE_RANGE_WRITE)


SYNC_FILE_RANGE_WRITE = 2


@lru_cache(maxsize=1)
def _sync_file_range():
    c = libc()
    start = getattr(c, "sync_file_range", None) if c is not None else None
    if start is not None:
        start.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return start


def _make_durable(root: Path, files: list[str]) -> None:
    """One barrier for many new files: syncfs(2) of the filesystem holding them (Linux), else an fsync each."""
    if _syncfs(root):
        return
    for name in files:
        fd = os.open(name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _make_renames_durable(root: Path, folders: set[str]) -> None:
    if len(folders) > 1 and _syncfs(root):
        return
    for folder in sorted(folders):
        _fsync_dir(folder)


def _syncfs(root: Path) -> bool:
    """syncfs(2) on ``root``'s filesystem; False where the C library has none."""
    c = libc()
    if c is None:
        return False
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if c.syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"syncfs: {os.strerror(errno)}", str(root))
    finally:
        os.close(fd)
    return True


@lru_cache(maxsize=1)
def libc():
    """The C library, for what Python does not wrap (syncfs, malloc_trim); None where it has no syncfs."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs  # noqa: B018 (present on Linux with glibc ≥ 2.14)
        return libc
    except (OSError, AttributeError):
        return None


class _Aside:
    """Files replaced or taken down in a flush, moved aside under ``.trash/`` (hidden: never
    served) and freed afterwards: freeing a file's last name costs this disk ~0.2 ms however
    small the file, ten times a rename to a free name, and a drop replaces ~40."""

    def __init__(self, root: Path):
        self.folder = root / TRASH
        self.names: list[str] = []
        self._made = self.folder.is_dir()

    def keep(self, path: str) -> None:
        """A second name for ``path``'s file, so that the rename over it frees nothing."""
        name = self._name()
        try:
            os.link(path, name)
        except FileNotFoundError:
            if self._make_for(path):
                self.keep(path)
            return  # else a new file: nothing to replace
        except OSError:
            return  # a file system without hard links: the rename frees the file itself
        self.names.append(name)

    def take(self, path: str) -> bool:
        """``path`` taken down; False if it was gone already."""
        name = self._name()
        try:
            os.rename(path, name)
        except FileNotFoundError:
            return self._make_for(path) and self.take(path)
        except OSError:
            _unlink(path)
            return True
        self.names.append(name)
        return True

    def _make_for(self, path: str) -> bool:
        """Whether the folder was missing, not ``path``: made now (only a flush that sets a file aside makes it)."""
        if self._made or not os.path.exists(path):
            return False
        self.folder.mkdir(exist_ok=True)
        self._made = True
        return True

    def _name(self) -> str:
        return _temp_name(str(self.folder))


def _unlink_all(names: list[str]) -> None:
    for name in names:
        _unlink(name)


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


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


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
