"""The pipeline, run once: reconcile ``seeds/`` with the index, then publish.

``feedd build`` calls :func:`build`; the daemon calls :func:`sync` with the
paths its watcher saw and :func:`publish` with the feeds that changed. There
is no other way in which a document is read, tagged or rendered.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path

from . import __version__, archive, document, lemmas, render
from .config import Config
from .index import FileState, Index
from .language import UNDETERMINED, detect_language
from .model import (ALL_FEED, Document, Feed, Parsed, Rejected, Topic, language_feed_name, shown_path,
                    topic_feed_name)
from .publish import publish_if_changed, remove_stale_temp_files, sync_folders, unpublish
from .scan import SeedFile, read_seed, relative_seed_path, scan, stat_seed
from .topics import Forms, Matcher, Tagging, assign_topics, fold_forms, folder_of, rule_words

log = logging.getLogger(__name__)

BATCH = 256  # files read, analysed and committed together
PAGE_SLICE = 500  # article pages rendered per slice: memory stays flat whatever the corpus size
ENTRY_MEMO_BYTES = 64 * 1024 * 1024  # rendered entries kept while many archive pages are rendered
# This many files to read, or more, and they are parsed and their language
# detected in worker processes, one per core (bench/build.py: 1.8x on 2 cores).
PARALLEL_MIN = 64


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    unchanged: int = 0
    deferred: int = 0  # changed too recently to be read safely: next time
    feeds: set[str] = field(default_factory=set)  # feeds whose entries may have changed
    keys: set[str] = field(default_factory=set)  # documents that changed: archive pages may hold them
    gone_pages: set[str] = field(default_factory=set)  # article pages to take down

    def touch(self, *docs: Document | None) -> None:
        """These documents changed (as they were, and as they are): their feeds are due."""
        for doc in docs:
            if doc is not None:
                self.feeds |= document_feeds(doc)
                self.keys.add(doc.key)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.moved or self.removed or self.rejected)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.moved)} moved, "
                f"{len(self.removed)} removed, {len(self.rejected)} rejected, {self.unchanged} unchanged")


@dataclass
class BuildResult:
    sync: SyncReport
    written: list[str]
    seconds: float


@dataclass(frozen=True)
class Analysis:
    parsed: Parsed
    lang: str
    topics: tuple[Topic, ...]


def read(raw: bytes, path: str, config: Config) -> tuple[Parsed, str]:
    """Parse and detect the language: pure, and the costly half of the work."""
    parsed = document.parse(raw, path, config.site.zone)
    return parsed, parsed.lang or detect_language(parsed.text or parsed.title, config.language)


def tag(parsed: Parsed, lang: str, path: str, config: Config, matcher: Matcher) -> Tagging:
    """Topics for a read document, given the rules compiled for its language."""
    return assign_topics(parsed.title, parsed.text, parsed.tags, folder_of(path), config.topics, lang,
                         matcher=matcher)


def analyse(raw: bytes, path: str, config: Config) -> tuple[Analysis, Tagging]:
    """Read and tag one document, as :func:`sync` would."""
    parsed, lang = read(raw, path, config)
    tagging = tag(parsed, lang, path, config, Matcher(config.topics, lang, keyword_forms(config, lang)))
    return Analysis(parsed, lang, tagging.topics), tagging


class Readers:
    """:func:`read` for many documents, in worker processes when it pays.

    Fork where the caller has no other thread (``feedd build``): the workers
    start at once and share the loaded language profiles. A daemon has
    threads, so its workers are spawned, and only for a big batch.
    """

    def __init__(self, config: Config, files: int):
        self.config = config
        self.pool = None
        workers = min(os.cpu_count() or 1, 8)
        if files >= PARALLEL_MIN and workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if threading.active_count() == 1 else "spawn"
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                            initializer=_warm_up, initargs=(config,))

    def submit(self, items: list[tuple[bytes, str]]) -> Iterator[tuple[Parsed, str] | Rejected]:
        """Results in order; with workers, the work starts now and runs while the caller goes on."""
        if self.pool is None or len(items) < 2:
            return (_read_or_reject(raw, path, self.config) for raw, path in items)
        work = partial(_read_or_reject, config=self.config)
        return self.pool.map(work, *zip(*items), chunksize=max(1, len(items) // 16))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_or_reject(raw: bytes, path: str, config: Config) -> tuple[Parsed, str] | Rejected:
    try:
        return read(raw, path, config)
    except Rejected as rejection:
        return rejection


def _warm_up(config: Config) -> None:
    """Load the language profiles in a worker before its first document."""
    _die_with_parent()
    detect_language("Load the language profiles before the first real document.", config.language)


def _die_with_parent() -> None:
    """A worker must not outlive a killed ``feedd build`` (Linux: PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def keyword_forms(config: Config, lang: str) -> Forms:
    """Inflections of the rules' words in ``lang`` (cached per machine; see :mod:`feedd.lemmas`)."""
    return keyword_forms_many(config, [lang])[lang]


def keyword_forms_many(config: Config, langs: Iterable[str]) -> dict[str, Forms]:
    langs = sorted(set(langs))
    words = rule_words(config.topics)
    if not words:
        return {lang: {} for lang in langs}
    try:
        found = lemmas.lookup_many(langs, words)
    except Exception as exc:  # a child killed for memory, say: match as written this time
        log.warning("could not look up inflections (%s); keywords match as written", exc)
        return {lang: {} for lang in langs}
    return {lang: fold_forms(found[lang]) for lang in langs}


def document_feeds(doc: Document | None) -> set[str]:
    """The feeds a document appears in."""
    if doc is None:
        return set()
    names = {ALL_FEED, *(topic_feed_name(t.slug) for t in doc.topics)}
    if doc.lang != UNDETERMINED:
        names.add(language_feed_name(doc.lang))
    return names


def build(config: Config, now: datetime | None = None, progress: Callable | None = None) -> BuildResult:
    """Reconcile everything and publish every feed: ``feedd build``."""
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    with Index(config.index_path) as index:
        report = sync(config, index, now, progress=progress)
        written = publish(config, index, now, report)
    return BuildResult(report, written, time.perf_counter() - started)


def sync(config: Config, index: Index, now: datetime, paths: Iterable[str] | None = None,
         progress: Callable | None = None, busy: set[str] | frozenset = frozenset(),
         cancel: threading.Event | None = None, min_age: float = 0.0) -> SyncReport:
    """Bring the index in line with ``seeds/``: all of it, or just ``paths``.

    Unchanged files (same size and mtime) are not read; files with a new stat
    are hashed and analysed only if their bytes changed. A file that vanished
    while one with the same bytes appeared is a move and keeps its id.
    Paths in ``busy`` (still being written), and files changed less than
    ``min_age`` seconds ago (a writer the watcher did not report), are left
    for later (``report.deferred``); ``cancel`` stops it between batches,
    each committed whole.
    """
    report = SyncReport()
    # New topic rules or language settings (or a new feedd) re-read everything.
    stamp = analysis_stamp(config)
    force = index.meta("analysis_stamp") != stamp
    if force:
        paths = None
    if paths is None:
        known = index.file_states()
        present = {seed.path: seed for seed in scan(config.seeds_dir)}
        gone = {path: state for path, state in known.items() if path not in present}
    else:
        known, present, gone = _look_at(config, index, paths)
    if busy:
        present = {path: seed for path, seed in present.items() if path not in busy}
        gone = {path: state for path, state in gone.items() if path not in busy}
    candidates = [seed for seed in present.values() if force or _needs_reading(known.get(seed.path), seed)]
    if min_age > 0:
        fresh_after = (now.timestamp() - min_age) * 1e9
        report.deferred = sum(1 for seed in candidates if seed.mtime_ns > fresh_after)
        candidates = [seed for seed in candidates if seed.mtime_ns <= fresh_after]
    report.unchanged = len(present) - len(candidates)
    gone_by_hash: dict[str, list[str]] = {}
    for path, state in gone.items():
        if state.error is None:
            gone_by_hash.setdefault(state.hash, []).append(path)
    if progress and candidates:
        candidates = progress(candidates)
    batches = [candidates[i:i + BATCH] for i in range(0, len(candidates), BATCH)]
    with Readers(config, len(candidates)) as readers:
        # While one batch is tagged and committed here, the next is being read
        # by the workers.
        pending = None
        for batch in [*batches, None]:
            if cancel is not None and cancel.is_set():
                return report  # not marked done: the next run picks up the rest
            prepared = _prepare(config, index, now, batch, known, gone, report, readers, force) if batch else None
            if pending:
                _ingest(config, index, now, pending, known, gone, gone_by_hash, report)
            pending = prepared
    if cancel is not None and cancel.is_set():
        return report
    if gone:
        with index.batch():
            for path in sorted(gone):
                old = index.remove(path, now)
                report.removed.append(path)
                report.touch(old)
                if old:
                    report.gone_pages.add(old.key)
                log.info("removed %s", shown_path(path))
    if force:
        index.set_meta("analysis_stamp", stamp)
    return report


def _look_at(config: Config, index: Index, paths: Iterable[str]):
    """What the index and the disk say about just these paths (and folders)."""
    seeds = config.seeds_dir
    known: dict[str, FileState] = {}
    present: dict[str, SeedFile] = {}
    gone: dict[str, FileState] = {}
    for path in dict.fromkeys(paths):
        full = seeds / path
        if full.is_dir() and not full.is_symlink():
            for seed in scan(full):
                relpath = relative_seed_path(seeds, full / seed.path)
                if relpath:
                    present[relpath] = SeedFile(relpath, seed.size, seed.mtime_ns)
        elif relative_seed_path(seeds, full) == path:
            seed = stat_seed(seeds, path)
            if seed:
                present[path] = seed
        # A vanished folder takes the documents under it along.
        for state in index.file_states_under(path):
            known[state.path] = state
    for path, state in known.items():
        if path not in present and stat_seed(seeds, path) is None:
            gone[path] = state
    return known, present, gone


def _needs_reading(state: FileState | None, seed: SeedFile) -> bool:
    if state is None or state.size != seed.size or state.mtime_ns != seed.mtime_ns:
        return True
    return bool(state.error and state.error.startswith("cannot read"))  # permissions may be fixed


def _prepare(config, index, now, seeds_batch, known, gone, report, readers, force):
    """Read and hash a batch; hand what changed to the readers. Returns what :func:`_ingest` needs."""
    reads = []
    with index.batch():
        for seed in seeds_batch:
            state = known.get(seed.path)
            try:
                raw = read_seed(config.seeds_dir, seed, config.input.max_bytes)
            except FileNotFoundError:
                if state:  # deleted between the scan (or event) and the read
                    gone[seed.path] = state
                continue
            except Rejected as rejection:
                _reject(index, seed, "", rejection, state, report, now)
                continue
            digest = document.content_hash(raw)
            if state and state.hash == digest and state.error is None and not force:
                index.touch(seed.path, seed.size, seed.mtime_ns)
                report.unchanged += 1
                continue
            reads.append((seed, raw, digest))
    return [(seed, digest) for seed, _, digest in reads], readers.submit([(raw, seed.path) for seed, raw, _ in reads])


def _ingest(config, index, now, prepared, known, gone, gone_by_hash, report) -> None:
    """Tag a read batch and commit it, whole."""
    reads, results = prepared
    with index.batch():
        readings = []
        for (seed, digest), result in zip(reads, results):
            if isinstance(result, Rejected):
                _reject(index, seed, digest, result, known.get(seed.path), report, now)
            else:
                readings.append((seed, digest, *result))
        matchers = {lang: Matcher(config.topics, lang, forms)
                    for lang, forms in keyword_forms_many(config, {r[3] for r in readings}).items()}
        for seed, digest, parsed, lang in readings:
            state = known.get(seed.path)
            analysis = Analysis(parsed, lang, tag(parsed, lang, seed.path, config, matchers[lang]).topics)
            previous = index.get(seed.path)
            source, moved_from = state, None
            if state is None:
                source, moved_from = _moved_from(config, index, seed, digest, gone, gone_by_hash, report)
            doc = _document(config, index, seed, digest, analysis, source)
            index.put(doc, seed.size, seed.mtime_ns, first_seen=now)
            index.register_feeds(_feeds_of(doc))
            report.touch(previous, doc)
            if previous and previous.key != doc.key:
                report.gone_pages.add(previous.key)
            if moved_from:
                report.moved.append((moved_from, seed.path))
                log.info("moved %s -> %s", shown_path(moved_from), shown_path(seed.path))
            else:
                (report.updated if state else report.added).append(seed.path)
                log.info("%s %s lang=%s topics=%s", "updated" if state else "ingested", shown_path(seed.path),
                         doc.lang, ",".join(t.slug for t in doc.topics) or "-")


def _moved_from(config, index, seed, digest, gone, gone_by_hash, report):
    """Is this new path a document that moved? Its old state and path, or (None, None).

    Watchers report a move as a removal and a creation, in either order and
    not always in the same batch: match the bytes against paths gone in this
    run, then tombstones of removals already handled, then indexed paths that
    no longer exist (their removal not handled yet).
    """
    if gone_by_hash.get(digest):
        old_path = gone_by_hash[digest].pop(0)
        state = gone.pop(old_path)
    else:
        state = index.take_tombstone(digest)
        if state:
            return state, state.path
        vanished = [path for path in index.paths_with_hash(digest)
                    if path != seed.path and stat_seed(config.seeds_dir, path) is None]
        if not vanished:
            return None, None
        old_path = vanished[0]
        state = index.file_state(old_path)
        gone.pop(old_path, None)
    report.touch(index.remove(old_path))
    return state, old_path


def _reject(index, seed, digest, rejection, state, report, now) -> None:
    if state and state.error == rejection.reason and state.hash == digest:
        index.touch(seed.path, seed.size, seed.mtime_ns)
        return  # the same complaint about the same bytes: said already
    old = index.get(seed.path)
    key = state.key if state else _free_key(index, document.document_key(seed.path, None), seed.path)
    index.put_rejected(seed.path, key, state.id if state else "", digest, seed.size, seed.mtime_ns,
                       rejection.reason, first_seen=now)
    report.rejected.append(rejection)
    report.touch(old)
    if old:
        report.gone_pages.add(old.key)
    log.warning("rejected %s", rejection)


def _document(config: Config, index: Index, seed: SeedFile, digest: str, analysis: Analysis,
              source: FileState | None) -> Document:
    """Decide identity and dates: the only impure choices, made once."""
    parsed = analysis.parsed
    if parsed.id:
        key = document.document_key(seed.path, parsed.id)
        id_ = parsed.id if ":" in parsed.id else render.entry_id(config.site, key)
    elif source and source.id:
        key, id_ = source.key, source.id
    else:
        key = _free_key(index, document.document_key(seed.path, None), seed.path)
        id_ = render.entry_id(config.site, key)
    mtime = datetime.fromtimestamp(seed.mtime_ns // 1_000_000_000, timezone.utc)
    published = parsed.date or (source.published if source and source.published else mtime)
    if source and source.updated and source.hash != digest:
        # An edit: later than before, always, so that readers notice it.
        updated = max(published, mtime, source.updated + timedelta(seconds=1))
    elif source and source.updated:
        updated = max(published, source.updated)  # a move, or new rules: not an edit
    else:
        updated = published  # first seen: as new as its date says
    return Document(
        path=seed.path, key=key, id=id_, hash=digest, title=parsed.title,
        published=published, updated=updated, lang=analysis.lang, topics=analysis.topics,
        author=parsed.author, link=parsed.link, summary=parsed.summary, content_html=parsed.content_html,
    )


def _free_key(index: Index, key: str, path: str | None = None) -> str:
    """``key``, or ``key-2``… when a moved document already holds it."""
    candidate, n = key, 1
    while index.key_owner(candidate) not in (None, path):
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def _feeds_of(doc: Document) -> list[Feed]:
    feeds = [Feed(ALL_FEED, "all", "Everything")]
    feeds += [Feed(topic_feed_name(t.slug), "topic", t.title) for t in doc.topics]
    if doc.lang != UNDETERMINED:
        feeds.append(Feed(language_feed_name(doc.lang), "language", render.language_name(doc.lang), doc.lang))
    return feeds


def configured_feeds(config: Config) -> list[Feed]:
    """Feeds that exist even before their first document: everything, and each rule's topic."""
    return [Feed(ALL_FEED, "all", "Everything")] + [
        Feed(topic_feed_name(rule.slug), "topic", rule.title) for rule in config.topics
    ]


def publish(config: Config, index: Index, now: datetime, report: SyncReport | None = None,
            feeds: set[str] | None = None) -> list[str]:
    """Render and write what may have changed; every feed when ``feeds`` is None.

    A full publish (no ``feeds``) also renders missing article pages and takes
    down pages whose document is gone, so a deleted ``feeds/`` comes back whole.
    """
    out = config.feeds_dir
    out.mkdir(parents=True, exist_ok=True)
    full = feeds is None
    if full:
        remove_stale_temp_files(out)
    with index.batch():
        index.register_feeds(configured_feeds(config))
    all_feeds = index.feeds()
    by_name = {feed.name: feed for feed in all_feeds}
    written: list[str] = []
    dirty: set[Path] = set()

    def write(relpath: str, data: bytes) -> None:
        if publish_if_changed(out, relpath, data, dirty):
            written.append(relpath)

    # In the order a reader follows links: the pages' style and script, new
    # article pages, then the feeds that link to them; pages are taken down last.
    if full:
        for name, data in _static_files().items():
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

    changed = report.keys if report else set()
    due = []
    for feed in all_feeds:
        if full or feed.name in feeds:
            docs = index.latest(feed, now, config.feeds.max_items)
            last = archive.update(index, feed, docs, config.feeds.max_items, config.feeds.archive_page_size,
                                  changed, whole=full)
            due.append((feed, docs, last))
    # Archive pages first: a current feed links to its newest one.
    _publish_archives(config, index, [(feed, last) for feed, _, last in due], full, write)
    # Everything's feed last: whoever sees a new entry there finds its topic and
    # language feeds already in place.
    for feed, docs, last in sorted(due, key=lambda item: item[0].kind == "all"):
        for relpath, data in render.render_feed(feed, docs, config.site, config.feeds.full_content,
                                                config.websub.hubs, last).items():
            write(relpath, data)
        if feed.kind != "all":  # everything's page is index.html, below
            write(render.feed_page_path(feed), render.render_feed_page(config.site, feed, docs, last))

    gone = set(report.gone_pages) if report else set()
    if full:
        live = index.published_keys(now)
        gone |= {name[:-5] for name in on_disk if name.endswith(".html") and name[:-5] not in live}
    for key in sorted(gone):
        if not index.is_published(key, now) and unpublish(out, render.article_path(key), dirty):
            written.append(render.article_path(key))

    if full or written:
        latest = index.latest(by_name[ALL_FEED], now, config.feeds.max_items)
        write("index.html", render.render_index(config.site, all_feeds, latest))
        for fmt, name in render.OPML_FILES.items():
            write(name, render.render_opml(config.site, all_feeds, fmt))
    sync_folders(dirty)
    return written


def _publish_archives(config: Config, index: Index, feeds: list[tuple[Feed, int]], full: bool,
                      write: Callable[[str, bytes], None]) -> None:
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
        folder = (config.feeds_dir / render.archive_path(feed, 1)).parent
        on_disk = set(os.listdir(folder)) if pages and full and folder.is_dir() else set()
        todo = [page for page, done in pages.items()
                if done != stamp or (full and f"{page}.atom" not in on_disk)]
        starts = index.archive_page_starts(feed, todo) if len(todo) > 1 else {}
        work += [(starts.get(page, 0), feed.name, page, feed, last) for page in todo]
    if not work:
        return
    work.sort(key=lambda item: item[:3])
    with render.widened_entry_memo(ENTRY_MEMO_BYTES if len(work) > 1 else None):
        for _, _, page, feed, last in work:
            docs = index.archive_page(feed, page)
            write(render.archive_path(feed, page),
                  render.render_archive(feed, page, last, docs, config.site, config.feeds.full_content))
    with index.batch():
        for _, _, page, feed, _ in work:
            index.mark_archive_page(feed, page, stamp)


def archive_stamp(config: Config) -> str:
    """What archive pages are made from besides their documents: change it, re-render them all."""
    return _stamp(__version__, repr(config.site), repr(config.feeds.full_content))


def analysis_stamp(config: Config) -> str:
    """What a document's language and topics depend on besides its bytes."""
    return _stamp(__version__, lemmas.LEMMATISER, repr(config.topics), repr(config.language), repr(config.site.zone))


def page_stamp(config: Config) -> str:
    """What article pages are made from besides the document: change it, re-render them all."""
    return _stamp(__version__, repr(config.site), repr(config.topics), _templates_digest())


def _stamp(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _static_files() -> dict[str, bytes]:
    """The pages' stylesheet and script, shared by every page (not inlined 100,000 times)."""
    folder = resources.files("feedd").joinpath("static")
    return {item.name: item.read_bytes() for item in folder.iterdir() if not item.name.startswith(".")}


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    digest = hashlib.sha256()
    for item in sorted(resources.files("feedd").joinpath("templates").iterdir(), key=lambda p: p.name):
        digest.update(item.read_bytes())
    return digest.hexdigest()
