"""Reconcile ``seeds/`` with the index: read, analyse and store what changed.

:func:`sync` is the one way a seed file becomes (or stops being) a document:
``feedd build`` calls it for the whole folder, the daemon for the paths its
watcher reported. Each run is a :class:`Reconciliation`: what the index and
the disk say, the moves seen so far, and the report of what changed, which
tells the publish stage (:mod:`feedd.publish`) what to render again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache, partial
from pathlib import Path

from . import __version__, document, lemmas, recover
from .config import Config, TopicRule
from .feeds import member_names
from .index import FileState, Index
from .language import detect_language
from .model import EPOCH, Document, Parsed, Rejected, Topic, shown_path, stamp
from .scan import SeedFile, read_seed, relative_seed_path, scan, scan_packed, stat_seed, unpack
from .topics import DISTINCT_LETTERS, Matcher, Tagging, assign_topics, fold_forms, folder_of, rule_words
from .workers import Workers

log = logging.getLogger(__name__)

BATCH = 256  # files read, analysed and committed together


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)  # held back by a draft marker in this run
    unchanged: int = 0
    deferred: int = 0  # changed too recently to be read safely: next time
    feeds: set[str] = field(default_factory=set)  # feeds whose entries may have changed
    keys: set[str] = field(default_factory=set)  # documents that changed: archive pages may hold them
    gone_pages: set[str] = field(default_factory=set)  # article pages to take down

    def add(self, other: SyncReport) -> None:
        """What another run did too (a daemon's drains joined into one publish)."""
        for name in ("added", "updated", "moved", "removed", "rejected", "drafts"):
            getattr(self, name).extend(getattr(other, name))
        self.unchanged += other.unchanged
        self.deferred += other.deferred
        self.feeds |= other.feeds
        self.keys |= other.keys
        self.gone_pages |= other.gone_pages

    def touch(self, *docs: Document | None) -> None:
        """These documents changed (as they were, and as they are): their feeds are due."""
        for doc in docs:
            if doc is not None:
                self.feeds |= member_names(doc)
                self.keys.add(doc.key)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.moved or self.removed or self.rejected or self.drafts)

    def summary(self) -> str:
        drafts = f", {len(self.drafts)} held back as drafts" if self.drafts else ""
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.moved)} moved, "
                f"{len(self.removed)} removed, {len(self.rejected)} rejected{drafts}, {self.unchanged} unchanged")


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
    tagging = tag(parsed, lang, path, config, matcher(config, lang))
    return Analysis(parsed, lang, tagging.topics), tagging


def _analyse_or_reject(raw: bytes, path: str, config: Config) -> Analysis | Rejected:
    """:func:`analyse` where :func:`sync` runs it (in the workers, when there are any)."""
    try:
        return analyse(raw, path, config)[0]
    except Rejected as rejection:
        return rejection


def _warm_up(config: Config) -> None:
    """Load the language model in a worker before its first document."""
    detect_language("Load the language model before the first real document.", config.language)


def matcher(config: Config, lang: str) -> Matcher:
    """The rules compiled for ``lang`` with their words' inflections, made once per process (a
    memo of a pure function: the rules are its key); when the inflections cannot be had, the
    keywords match as written this time, and the next document asks again."""
    try:
        return _matcher(config.topics, lang)
    except Exception as exc:  # a child killed for memory, say
        log.warning("could not look up inflections (%s); keywords match as written", exc)
        return Matcher(config.topics, lang, {})


@lru_cache(maxsize=32)
def _matcher(rules: tuple[TopicRule, ...], lang: str) -> Matcher:
    found = lemmas.lookup_many({lang: rule_words(rules, lang)})  # an error is raised, not kept
    return Matcher(rules, lang, fold_forms(found[lang], lang))


def analysis_stamp(config: Config) -> str:
    """What a document's language and topics depend on besides its bytes."""
    return stamp(__version__, lemmas.LEMMATISER, repr(DISTINCT_LETTERS), repr(config.topics), repr(config.language),
                 repr(config.site.zone))


def sync(config: Config, index: Index, now: datetime, paths: Iterable[str] | None = None,
         progress: Callable | None = None, busy: set[str] | frozenset = frozenset(),
         cancel: threading.Event | None = None, min_age: float = 0.0,
         scanned: Iterable[SeedFile] | None = None) -> SyncReport:
    """Bring the index in line with ``seeds/``: all of it, or just ``paths``.

    Unchanged files (same size and mtime) are not read; files with a new stat
    are hashed and analysed only if their bytes changed. A file that vanished
    while one with the same bytes appeared is a move and keeps its id.
    Paths in ``busy`` (still being written; a folder stands for what is under
    it), and files changed less than ``min_age`` seconds ago (a writer the
    watcher did not report), are left for later (``report.deferred``);
    ``cancel`` stops it between batches, each committed whole. ``scanned``:
    ``seeds/`` as a scan found it earlier, instead of scanning now, when all
    of it is looked at (no ``paths``, or new rules that re-read everything);
    whatever changed since must be in ``busy``.
    """
    # New topic rules or language settings (or a new feedd) re-read everything.
    current = analysis_stamp(config)
    force = index.meta("analysis_stamp") != current
    run = Reconciliation(config, index, now, force)
    run.look(None if force else paths, busy, scanned)
    if run.reconcile(progress, cancel, min_age) and force:
        index.set_meta("analysis_stamp", current)
    return run.report


@dataclass(frozen=True)
class Survey:
    """``seeds/`` as a scan found it (packed: :func:`feedd.scan.pack`) and, compared with the index
    then, the paths whose files it does not hold as they are: new, changed, unreadable before, or
    gone (None: not compared)."""
    packed: str
    changed: tuple[str, ...] | None


def survey(seeds: Path, index_path: Path) -> Survey:
    """Scan ``seeds/`` and compare it with the index, read-only: a daemon's start-up runs this in a
    worker process (at 100,000 files, seconds that would hold up its drops), and its catch-up then
    looks at the changed paths alone. The index may change meanwhile only where the daemon's
    watcher saw files change, and the catch-up leaves those paths to the drains."""
    packed = scan_packed(seeds)
    try:
        with Index(index_path, read_only=True) as index:
            differ, unmatched, _ = index.compare((seed.path, seed.size, seed.mtime_ns) for seed in unpack(packed))
    except (sqlite3.Error, RuntimeError) as exc:
        log.warning("%s: not compared with seeds/ ahead (%s): the catch-up compares all of it", index_path, exc)
        return Survey(packed, None)
    changed = [seed.path for seed in _to_read(differ)]
    return Survey(packed, (*changed, *(state.path for state in unmatched)))


def _within(path: str, paths: set[str] | frozenset) -> bool:
    """``path`` is one of ``paths``, or under a folder among them."""
    if path in paths:
        return True
    at = path.find("/")
    while at != -1:
        if path[:at] in paths:
            return True
        at = path.find("/", at + 1)
    return False


class Reconciliation:
    """One run of :func:`sync`: what the index and the disk say, and what changed."""

    def __init__(self, config: Config, index: Index, now: datetime, force: bool):
        self.config = config
        self.index = index
        self.now = now
        self.force = force  # read every file again, changed or not
        self.report = SyncReport()
        self.known: dict[str, FileState] = {}  # what the index holds of the paths to read (and more)
        self.to_read: list[SeedFile] = []  # on disk, not in the index as they are
        self.seen = 0  # seed files looked at
        self.gone: dict[str, FileState] = {}  # indexed, no longer on disk (unless a move claims them)
        self.gone_by_hash: dict[str, list[str]] = {}
        self.recovered: dict[str, recover.Published] = {}  # a lost index: what feeds/ says was published

    @cached_property
    def real_seeds(self) -> str:
        """seeds/ with its links resolved, for :func:`stat_seed`: once a run, not once a path."""
        return os.path.realpath(self.config.seeds_dir)

    def look(self, paths: Iterable[str] | None, busy: set[str] | frozenset,
             scanned: Iterable[SeedFile] | None = None) -> None:
        """What the index and the disk say: about everything, or just ``paths`` (and folders)."""
        if paths is None:
            seeds = scanned if scanned is not None else scan(self.config.seeds_dir)
            seeds = (seed for seed in seeds if not (busy and _within(seed.path, busy)))
            if self.force:  # every file is read again: every state is wanted
                present = {seed.path: seed for seed in seeds}
                self.known = self.index.file_states()
                self.seen, self.to_read = len(present), list(present.values())
                unmatched = [state for path, state in self.known.items() if path not in present]
            else:
                differ, unmatched, self.seen = self.index.compare((seed.path, seed.size, seed.mtime_ns)
                                                                  for seed in seeds)
                self.known = {state.path: state for _, state in differ if state is not None}
                self.to_read = _to_read(differ)
            self.gone = {state.path: state for state in unmatched}
            if self.index.empty():  # a first build, or a lost index: feeds/ may know better
                self.recovered = recover.published_identities(self.config.feeds_dir)
                if self.recovered:
                    log.info("no index: identities of %d published articles recovered from their pages",
                             len(self.recovered))
        else:
            present = {path: seed for path, seed in self._look_at(paths).items()
                       if not (busy and _within(path, busy))}
            self.seen = len(present)
            self.to_read = [seed for seed in present.values()
                            if self.force or _needs_reading(self.known.get(seed.path), seed)]
        if busy:
            self.gone = {path: state for path, state in self.gone.items() if not _within(path, busy)}
        for path, state in self.gone.items():
            if state.error is None:
                self.gone_by_hash.setdefault(state.hash, []).append(path)

    def _look_at(self, paths: Iterable[str]) -> dict[str, SeedFile]:
        """What the disk holds at ``paths``; the index's states of them, and which of them are gone."""
        seeds, present = self.config.seeds_dir, {}
        for path in dict.fromkeys(paths):
            full = seeds / path
            if full.is_dir() and not full.is_symlink():
                for seed in scan(full):
                    relpath = relative_seed_path(seeds, full / seed.path)
                    if relpath:
                        present[relpath] = SeedFile(relpath, seed.size, seed.mtime_ns)
            elif relative_seed_path(seeds, full) == path:
                seed = stat_seed(seeds, path, self.real_seeds)
                if seed:
                    present[path] = seed
            # A vanished folder takes the documents under it along.
            for state in self.index.file_states_under(path):
                self.known[state.path] = state
        for path, state in self.known.items():
            if path not in present and stat_seed(seeds, path, self.real_seeds) is None:
                self.gone[path] = state
        return present

    def reconcile(self, progress: Callable | None, cancel: threading.Event | None, min_age: float) -> bool:
        """Read what changed, in batches, and remove what is gone; False when cancelled (the next run goes on)."""
        report = self.report
        candidates = self.to_read
        if min_age > 0:
            fresh_after = (self.now.timestamp() - min_age) * 1e9
            report.deferred = sum(1 for seed in candidates if seed.mtime_ns > fresh_after)
            candidates = [seed for seed in candidates if seed.mtime_ns <= fresh_after]
        report.unchanged = self.seen - len(candidates)
        if progress and candidates:
            candidates = progress(candidates)
        batches = [candidates[i:i + BATCH] for i in range(0, len(candidates), BATCH)]
        with Workers(len(candidates), initializer=_warm_up, initargs=(self.config,)) as workers:
            # While one batch is tagged and committed here, the next is being read by the workers.
            pending = None
            for batch in [*batches, None]:
                if cancel is not None and cancel.is_set():
                    return False
                prepared = self._prepare(batch, workers) if batch else None
                if pending:
                    self._ingest(*pending)
                pending = prepared
        if cancel is not None and cancel.is_set():
            return False
        self._remove_gone()
        return True

    def _prepare(self, batch: list[SeedFile], workers: Workers):
        """Read and hash a batch; hand what changed to :func:`read` (in the workers, when there are any).
        Returns what :meth:`_ingest` needs; the reading starts now and runs while the caller goes on."""
        reads = []
        with self.index.batch():
            for seed in batch:
                state = self.known.get(seed.path)
                try:
                    raw = read_seed(self.config.seeds_dir, seed, self.config.input.max_bytes)
                except FileNotFoundError:
                    if state:  # deleted between the scan (or event) and the read
                        self.gone[seed.path] = state
                    continue
                except Rejected as rejection:
                    self._reject(seed, "", rejection)
                    continue
                digest = document.content_hash(raw)
                if state and state.hash == digest and state.error is None and not self.force:
                    self.index.touch(seed.path, seed.size, seed.mtime_ns)
                    self.report.unchanged += 1
                    continue
                reads.append((seed, raw, digest))
        results = workers.map(partial(_analyse_or_reject, config=self.config), [raw for _, raw, _ in reads],
                              [seed.path for seed, _, _ in reads])
        return [(seed, digest) for seed, _, digest in reads], results

    def _ingest(self, reads: list[tuple[SeedFile, str]], results) -> None:
        """Commit a batch read and tagged, whole."""
        index, report = self.index, self.report
        with index.batch():
            for (seed, digest), analysis in zip(reads, results):
                if isinstance(analysis, Rejected):
                    self._reject(seed, digest, analysis)
                    continue
                if analysis.parsed.draft:
                    self._hold(seed, digest, analysis.parsed)
                    continue
                state = self.known.get(seed.path)
                previous = index.get(seed.path)
                source, moved_from = state, None
                if state is None:
                    source, moved_from = self._moved_from(seed, digest)
                if source is None and digest in self.recovered:
                    source = self._recovered(seed, digest)
                doc = self._document(seed, digest, analysis, source)
                index.put(doc, seed.size, seed.mtime_ns, first_seen=self.now)
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

    def _moved_from(self, seed: SeedFile, digest: str) -> tuple[FileState | None, str | None]:
        """Is this new path a document that moved? Its old state and path, or (None, None).

        Watchers report a move as a removal and a creation, in either order and
        not always in the same batch: match the bytes against paths gone in this
        run, then tombstones of removals already handled, then indexed paths that
        no longer exist (their removal not handled yet).
        """
        index = self.index
        if self.gone_by_hash.get(digest):
            old_path = self.gone_by_hash[digest].pop(0)
            state = self.gone.pop(old_path)
        else:
            state = index.take_tombstone(digest)
            if state:
                return state, state.path
            vanished = [path for path in index.paths_with_hash(digest)
                        if path != seed.path and stat_seed(self.config.seeds_dir, path, self.real_seeds) is None]
            if not vanished:
                return None, None
            old_path = vanished[0]
            state = index.file_state(old_path)
            self.gone.pop(old_path, None)
        self.report.touch(index.remove(old_path))
        return state, old_path

    def _recovered(self, seed: SeedFile, digest: str) -> FileState | None:
        """The identity and dates the article page of these bytes was published with (once)."""
        published = self.recovered.pop(digest)
        if self.index.key_owner(published.key) not in (None, seed.path):
            return None
        return FileState(seed.path, published.key, published.id, digest, seed.size, seed.mtime_ns,
                         published.published, published.updated, None)

    def _reject(self, seed: SeedFile, digest: str, rejection: Rejected) -> None:
        if self._withhold(seed, digest, rejection.reason):
            self.report.rejected.append(rejection)
            log.warning("rejected %s", rejection)

    def _hold(self, seed: SeedFile, digest: str, parsed: Parsed) -> None:
        """A draft: out of every feed and page, like a deletion, but its key and id are kept
        for the day the marker goes."""
        header_id = document.identity(self.config.site.tag_authority, seed.path, parsed.id) if parsed.id else None
        if self._withhold(seed, digest, parsed.draft, draft=True, identity=header_id):
            self.report.drafts.append(seed.path)
            log.info("draft %s held back (%s)", shown_path(seed.path), parsed.draft)

    def _withhold(self, seed: SeedFile, digest: str, reason: str, draft: bool = False,
                  identity: tuple[str, str] | None = None) -> bool:
        """Keep ``seed`` out of the feeds for ``reason``; False if that was known already."""
        index, report = self.index, self.report
        state = self.known.get(seed.path)
        if state and state.error == reason and state.hash == digest:
            index.touch(seed.path, seed.size, seed.mtime_ns)
            return False  # the same reason about the same bytes: said already
        old = index.get(seed.path)
        if state and state.id:
            key, id_ = state.key, state.id
        elif identity:
            key, id_ = identity
        else:
            key, id_ = (state.key if state else self._free_key(document.document_key(seed.path, None), seed.path)), ""
        index.put_rejected(seed.path, key, id_, digest, seed.size, seed.mtime_ns, reason, first_seen=self.now,
                           draft=draft)
        report.touch(old)
        if old:
            report.gone_pages.add(old.key)
        return True

    def _document(self, seed: SeedFile, digest: str, analysis: Analysis, source: FileState | None) -> Document:
        """Decide identity and dates: the only impure choices, made once."""
        parsed = analysis.parsed
        if parsed.id:
            key, id_ = document.identity(self.config.site.tag_authority, seed.path, parsed.id)
        elif source and source.id:
            key, id_ = source.key, source.id
        else:
            key = self._free_key(document.document_key(seed.path, None), seed.path)
            id_ = document.entry_id(self.config.site.tag_authority, key)
        mtime = datetime.fromtimestamp(seed.mtime_ns // 1_000_000_000, timezone.utc)
        published = parsed.date or (source.published if source and source.published else mtime)
        # When this version was written: the file's time (a lost index finds it again), never later than now.
        written = min(EPOCH + timedelta(microseconds=seed.mtime_ns // 1000), self.now)
        if source and source.updated and source.hash != digest:
            # An edit: later than before, always, so that readers notice it.
            updated = max(published, written, source.updated + timedelta(seconds=1))
        elif source and source.updated:
            updated = max(published, source.updated)  # a move, or new rules: not an edit
        else:
            updated = max(published, written)
        updated = self.index.distinct_updated(updated, key, seed.path)
        return Document(
            path=seed.path, key=key, id=id_, hash=digest, title=parsed.title,
            published=published, updated=updated, lang=analysis.lang, topics=analysis.topics,
            author=parsed.author, link=parsed.link, summary=parsed.summary, content_html=parsed.content_html,
        )

    def _free_key(self, key: str, path: str | None = None) -> str:
        """``key``, or ``key-2``… when a moved document already holds it."""
        candidate, n = key, 1
        while self.index.key_owner(candidate) not in (None, path):
            n += 1
            candidate = f"{key}-{n}"
        return candidate

    def _remove_gone(self) -> None:
        if not self.gone:
            return
        with self.index.batch():
            for path in sorted(self.gone):
                old = self.index.remove(path, self.now)
                self.report.removed.append(path)
                self.report.touch(old)
                if old:
                    self.report.gone_pages.add(old.key)
                log.info("removed %s", shown_path(path))


def _to_read(differ: list[tuple[tuple[str, int, int], FileState | None]]) -> list[SeedFile]:
    """The seeds a comparison with the index (:meth:`feedd.index.Index.compare`) found different
    that need reading, in its order."""
    return [seed for seed, state in ((SeedFile(*row), state) for row, state in differ) if _needs_reading(state, seed)]


def _needs_reading(state: FileState | None, seed: SeedFile) -> bool:
    if state is None or state.size != seed.size or state.mtime_ns != seed.mtime_ns:
        return True
    return bool(state.error and state.error.startswith("cannot read"))  # permissions may be fixed
