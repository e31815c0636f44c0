"""The index: every seed file feedd has seen, in SQLite, the only state it keeps.

One connection, owned by one thread; WAL so readers never wait; one
transaction per batch so a crash loses at most the batch in flight, which the
next reconciliation reads again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lru import LRU

from . import document
from . import feeds as registry
from .model import EPOCH, Document, FeeddError, Feed, Topic

# 5: the tally of documents without an error, kept by triggers.
# 4: ``updated`` in microseconds, distinct among published documents; when a feed was emptied; drafts.
# 3: feed membership in one table for every kind (feed_members). 2 and 3 are migrated, 1 rebuilt.
SCHEMA_VERSION = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    id TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    error TEXT,                 -- why it is not published (a rejection, or the draft marker); NULL when published
    draft INTEGER NOT NULL DEFAULT 0,  -- 1: error is a draft marker, the file is held back, not wrong
    title TEXT,
    published INTEGER,          -- UTC seconds
    updated INTEGER,            -- UTC microseconds: distinct among published documents (Atom readers need it)
    lang TEXT,
    author TEXT,
    link TEXT,
    summary TEXT,
    content_html TEXT,
    topics TEXT NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL,
    page_stamp TEXT             -- NULL until the article page is rendered
);
CREATE INDEX IF NOT EXISTS documents_by_date ON documents(published, mtime_ns, key) WHERE error IS NULL;
CREATE INDEX IF NOT EXISTS documents_by_hash ON documents(hash);
CREATE INDEX IF NOT EXISTS documents_unrendered ON documents(published) WHERE page_stamp IS NULL AND error IS NULL;
CREATE INDEX IF NOT EXISTS documents_rejected ON documents(path) WHERE error IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_by_updated ON documents(updated) WHERE error IS NULL;
-- What a reconciliation compares, apart from the rows' text: scanning 100,000 of
-- these costs a few megabytes, not the whole table.
CREATE INDEX IF NOT EXISTS documents_state ON documents(path, key, id, hash, size, mtime_ns, published, updated, error);
-- Which feed each published document is in, of every kind the registry
-- (feedd/feeds.py) defines: "the newest N of a feed" and "a feed's members"
-- are one range of this primary key, whatever the kind.
CREATE TABLE IF NOT EXISTS feed_members (
    feed TEXT NOT NULL,
    published INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,  -- the tie-breaker within a date, then the key
    key TEXT NOT NULL,
    PRIMARY KEY (feed, published, mtime_ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feed_members_by_key ON feed_members(key);
CREATE TABLE IF NOT EXISTS feeds (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    lang TEXT,
    emptied INTEGER,            -- microseconds: when it was left without entries; NULL while it has some
    from_rule INTEGER NOT NULL DEFAULT 0  -- 1: a [topics.<slug>] rule made it (its removal retires it)
);
CREATE TABLE IF NOT EXISTS tombstones (   -- removed documents, so that a move seen late keeps its id
    hash TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    published INTEGER,
    updated INTEGER,            -- microseconds, as in documents
    removed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_by_hash ON tombstones(hash, removed);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- RFC 5005 archives: the page each entry that left a feed was put on. Kept,
-- not derived, so that a page's entries never move when others come and go.
CREATE TABLE IF NOT EXISTS archive_entries (
    feed TEXT NOT NULL,
    key TEXT NOT NULL,
    page INTEGER NOT NULL,
    PRIMARY KEY (feed, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS archive_entries_by_page ON archive_entries(feed, page);
CREATE TABLE IF NOT EXISTS archive_pages (
    feed TEXT NOT NULL,
    page INTEGER NOT NULL,
    filled INTEGER NOT NULL,    -- entries ever put on it (deletions leave a gap, never room)
    stamp TEXT,                 -- what it was rendered with; NULL: render it again
    PRIMARY KEY (feed, page)
) WITHOUT ROWID;
-- A drop asks for its feeds' pages to render: "all" has thousands of pages at 100,000.
CREATE INDEX IF NOT EXISTS archive_pages_unrendered ON archive_pages(feed, page) WHERE stamp IS NULL;
-- How many documents have no error (published or embargoed), kept by the database itself:
-- the daemon reports counts after every change, and counting 100,000 rows takes ~10 ms.
CREATE TABLE IF NOT EXISTS tally (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tally_insert AFTER INSERT ON documents WHEN NEW.error IS NULL
BEGIN UPDATE tally SET n = n + 1 WHERE name = 'ok'; END;
CREATE TRIGGER IF NOT EXISTS tally_delete AFTER DELETE ON documents WHEN OLD.error IS NULL
BEGIN UPDATE tally SET n = n - 1 WHERE name = 'ok'; END;
CREATE TRIGGER IF NOT EXISTS tally_update AFTER UPDATE OF error ON documents
WHEN (OLD.error IS NULL) != (NEW.error IS NULL)
BEGIN UPDATE tally SET n = n + (NEW.error IS NULL) - (OLD.error IS NULL) WHERE name = 'ok'; END;
"""

# Newest first; documents of the same date (often only a day is given) by the
# file's modification time, then by key: all derivable from the files.
_NEWEST_FIRST = "published DESC, mtime_ns DESC, key DESC"
# A document's row: its head (what it is made of, without its text), then its text.
_HEAD_COLUMNS = ("path", "key", "id", "hash", "published", "updated", "lang", "topics")
_TEXT_COLUMNS = ("title", "author", "link", "summary", "content_html")
_DOCUMENT_COLUMNS = ", ".join(_HEAD_COLUMNS + _TEXT_COLUMNS)
_D_COLUMNS = ", ".join(f"d.{column}" for column in _HEAD_COLUMNS + _TEXT_COLUMNS)  # the same, joined as d
_D_HEAD_COLUMNS = ", ".join(f"d.{column}" for column in _HEAD_COLUMNS)
# What a reconciliation compares of a path (FileState).
_STATE_COLUMNS = "path, key, id, hash, size, mtime_ns, published, updated, error"
DOCUMENTS_KEPT = 512  # whole documents kept by their head row (a drop's feeds: a few hundred)
HEADS_KEPT = 1024  # documents without their text, by their head row (a drop's open archive pages: ~600)


@dataclass(frozen=True)
class FileState:
    """What the index knows of a path, enough to decide whether to read it again."""

    path: str
    key: str
    id: str
    hash: str
    size: int
    mtime_ns: int
    published: datetime | None
    updated: datetime | None
    error: str | None


class NoIndex(FeeddError):
    """Nothing was built yet."""


class InUse(FeeddError):
    """Another feedd writes this index (a daemon, a build): two would publish every drop twice."""


def _claim(path: Path) -> int:
    """An exclusive lock beside the index, held for the life of the descriptor (the kernel drops it
    when the process dies, even by kill -9); it names its holder's pid for the error."""
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise InUse(f"{path}: in use by another feedd (pid {holder}): one feedd run or feedd build "
                    "at a time") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Index:
    @classmethod
    def existing(cls, path: Path) -> Index:
        """The index at ``path`` if a build made one (commands that only read it must not create it)."""
        if not path.exists():
            raise NoIndex(f"no index yet at {path}: run feedd build first")
        return cls(path)

    def __init__(self, path: Path, shared: bool = False, writer: bool = False, read_only: bool = False):
        """``shared``: created on one thread, used on another (never two at once); ``writer``: the
        one process that changes it and publishes from it (:class:`InUse` when another is);
        ``read_only``: opened as it is by another process while its writer runs (the daemon's
        start-up scan compares seeds/ with it in a worker), with no schema work."""
        self.path = path
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _claim(path) if writer else None
        self._documents: LRU = LRU(DOCUMENTS_KEPT)  # see _whole (lru-dict's LRU, in C: a drop asks ~1,200 times)
        self._heads: LRU = LRU(HEADS_KEPT)  # see _headed
        self._taken_up_to: dict[int, int] = {}  # see distinct_updated
        self._registered: dict[tuple[str, int], tuple] = {}  # see register_feeds
        self._feeds: list[Feed] | None = None  # see feeds
        if read_only:
            self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       timeout=30, check_same_thread=not shared)
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._db.close()
                raise RuntimeError(f"{path}: not an index of this feedd's schema ({SCHEMA_VERSION})")
            return
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=not shared)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path}: index schema {version} is newer than this feedd ({SCHEMA_VERSION})")
        # One transaction (the script leaves it open): the index is migrated whole, or not at all.
        drop = ""
        if 0 < version < 2:
            # The index is a cache of seeds/: a layout this old is rebuilt, ids included.
            drop = "".join(f"DROP TABLE IF EXISTS {table};"
                           for table in ("documents", "document_topics", "feeds", "meta", "tombstones"))
        self._db.executescript(f"BEGIN IMMEDIATE; {drop} {_SCHEMA}")
        if version in (2, 3):
            self._db.execute("ALTER TABLE feeds ADD COLUMN emptied INTEGER")
            self._db.execute("ALTER TABLE feeds ADD COLUMN from_rule INTEGER NOT NULL DEFAULT 0")
            self._db.execute("ALTER TABLE documents ADD COLUMN draft INTEGER NOT NULL DEFAULT 0")
        if version == 2:
            self._migrate_memberships()
        if version in (2, 3):
            self._migrate_updated()
        if version < 5:
            self._db.execute("INSERT OR REPLACE INTO tally (name, n)"
                             " SELECT 'ok', count(*) FROM documents WHERE error IS NULL")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.execute("COMMIT")

    def _migrate_memberships(self) -> None:
        """Schema 2 kept topics in document_topics and derived other feeds in SQL: derive every
        membership from the stored documents instead (ids, dates and archives stay as they are)."""
        rows = self._db.execute(f"SELECT mtime_ns, {_DOCUMENT_COLUMNS} FROM documents WHERE error IS NULL").fetchall()
        for row in rows:
            self._add_members(_document(row[1:]), row[0])
        self._db.execute("DROP TABLE IF EXISTS document_topics")
        self._db.execute("DROP INDEX IF EXISTS documents_by_lang")

    def _migrate_updated(self) -> None:
        """Schemas 2 and 3 kept ``updated`` in seconds, where documents of one day often tied:
        microseconds now, and tied values made distinct the way new documents are."""
        for table in ("documents", "tombstones"):
            self._db.execute(f"UPDATE {table} SET updated = updated * 1000000 WHERE updated IS NOT NULL")
        tied = self._db.execute(
            "SELECT path, key, updated FROM documents WHERE error IS NULL AND updated IN"
            " (SELECT updated FROM documents WHERE error IS NULL GROUP BY updated HAVING count(*) > 1)"
            " ORDER BY path").fetchall()
        for path, key, updated in tied:
            moment = self.distinct_updated(_from_micros(updated), key, path)
            self._db.execute("UPDATE documents SET updated = ? WHERE path = ?", (_micros(moment), path))
            self._taken_up_to.clear()  # its old microsecond may be free again

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def batch(self, immediate: bool = True) -> Iterator[None]:
        """One transaction: all of it lands, or none of it. ``immediate=False``: one that writes
        only temporary tables, and takes no lock on the index until it reads (a comparison in
        another process, :meth:`compare`, must not hold up the writer's changes)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._forget_feeds()  # what the rollback undid
            raise
        finally:
            self._taken_up_to.clear()
        try:
            self._db.execute("COMMIT")
        except BaseException:
            self._forget_feeds()
            raise

    # -- what is there -----------------------------------------------------

    def compare(self, seeds: Iterable[tuple[str, int, int]]) -> tuple[list[tuple[tuple[str, int, int], FileState | None]],
                                                                       list[FileState], int]:
        """A scan of seeds/ (path, size, mtime_ns) against what the index holds, joined in SQL: 100,000
        files compared as Python objects took ~2 s and ~200,000 objects the heap kept.

        Returns the seeds the index has not seen with this stat, or seen with an error (each
        with its state, or None; in the scan's order), the states of paths no seed matches, and
        how many seeds there were.
        """
        db, seen = self._db, 0

        def numbered():
            nonlocal seen
            for seen, (path, size, mtime_ns) in enumerate(seeds, 1):
                yield path, seen, size, mtime_ns

        db.execute("CREATE TEMP TABLE IF NOT EXISTS scanned (path TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
                   " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL) WITHOUT ROWID")
        try:
            with self.batch(immediate=False):
                db.execute("DELETE FROM temp.scanned")
                db.executemany("INSERT OR REPLACE INTO temp.scanned VALUES (?, ?, ?, ?)", numbered())
            state = ", ".join(f"d.{column}" for column in _STATE_COLUMNS.split(", "))
            differ = db.execute(
                f"SELECT s.path, s.size, s.mtime_ns, {state} FROM temp.scanned s LEFT JOIN documents d"
                " ON d.path = s.path WHERE d.path IS NULL OR d.size != s.size OR d.mtime_ns != s.mtime_ns"
                " OR d.error IS NOT NULL ORDER BY s.seq").fetchall()
            unmatched = db.execute(f"SELECT {state} FROM documents d"
                                   " WHERE NOT EXISTS (SELECT 1 FROM temp.scanned s WHERE s.path = d.path)").fetchall()
        finally:
            db.execute("DELETE FROM temp.scanned")
        return ([(row[:3], _file_state(row[3:]) if row[3] is not None else None) for row in differ],
                [_file_state(row) for row in unmatched], seen)

    def empty(self) -> bool:
        return self._db.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is None

    def file_states(self) -> dict[str, FileState]:
        rows = self._db.execute(f"SELECT {_STATE_COLUMNS} FROM documents")
        return {row[0]: _file_state(row) for row in rows}

    def file_state(self, path: str) -> FileState | None:
        row = self._db.execute(
            f"SELECT {_STATE_COLUMNS} FROM documents WHERE path = ?", (path,)
        ).fetchone()
        return _file_state(row) if row else None

    def paths_with_hash(self, hash_: str) -> list[str]:
        """Published documents with these bytes."""
        return [r[0] for r in self._db.execute("SELECT path FROM documents WHERE hash = ? AND error IS NULL", (hash_,))]

    def key_owner(self, key: str) -> str | None:
        """The path holding ``key``, if any."""
        row = self._db.execute("SELECT path FROM documents WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def file_states_under(self, path: str) -> list[FileState]:
        """The state of ``path`` and of every path below it as a folder."""
        rows = self._db.execute(
            f"SELECT {_STATE_COLUMNS} FROM documents"
            " WHERE path = ? OR (path >= ? AND path < ?)",  # a range of the primary key: "a/" ≤ p < "a0"
            (path, path + "/", path + "0"),
        )
        return [_file_state(row) for row in rows]

    def get(self, path: str) -> Document | None:
        row = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE path = ? AND error IS NULL", (path,)
        ).fetchone()
        return _document(row) if row else None

    def documents(self) -> Iterator[Document]:
        rows = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE error IS NULL ORDER BY {_NEWEST_FIRST}"
        )
        return map(_document, rows)

    def rejected(self, limit: int = -1) -> list[tuple[str, str]]:
        return list(self._db.execute(
            "SELECT path, error FROM documents WHERE error IS NOT NULL AND draft = 0 ORDER BY path LIMIT ?", (limit,)))

    def drafts(self, limit: int = -1) -> list[tuple[str, str]]:
        """(path, marker) of the files held back as drafts."""
        return list(self._db.execute(
            "SELECT path, error FROM documents WHERE error IS NOT NULL AND draft = 1 ORDER BY path LIMIT ?", (limit,)))

    def counts(self, now: datetime) -> dict[str, int]:
        """From the tally and the small indexes, never a count of every row: the daemon asks
        after every change."""
        at = {"now": _seconds(now)}

        def count(where: str) -> int:
            return self._db.execute(f"SELECT count(*) FROM documents WHERE {where}", at).fetchone()[0]

        embargoed = count("error IS NULL AND published > :now")
        return {
            "published": self._db.execute("SELECT n FROM tally WHERE name = 'ok'").fetchone()[0] - embargoed,
            "embargoed": embargoed,
            "rejected": count("error IS NOT NULL AND draft = 0"),
            "drafts": count("error IS NOT NULL AND draft = 1"),
        }

    # -- changes ------------------------------------------------------------

    def put(self, doc: Document, size: int, mtime_ns: int, first_seen: datetime) -> None:
        """Store ``doc`` at its path, replacing whatever was there."""
        with self.batch():
            self._drop(doc.path)
            self._db.execute(
                "INSERT INTO documents (path, key, id, hash, size, mtime_ns, title, published, updated, lang,"
                " author, link, summary, content_html, topics, first_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.path, doc.key, doc.id, doc.hash, size, mtime_ns, doc.title,
                    _seconds(doc.published), _micros(doc.updated), doc.lang, doc.author, doc.link,
                    doc.summary, doc.content_html,
                    json.dumps([[t.slug, t.title] for t in doc.topics], ensure_ascii=False),
                    _seconds(first_seen),
                ),
            )
            self._add_members(doc, mtime_ns)

    def _add_members(self, doc: Document, mtime_ns: int) -> None:
        members = registry.memberships(doc)
        self._db.executemany(
            "INSERT INTO feed_members (feed, published, mtime_ns, key) VALUES (?, ?, ?, ?)",
            [(feed.name, _seconds(doc.published), mtime_ns, doc.key) for feed in members],
        )
        self.register_feeds(members)

    def put_rejected(self, path: str, key: str, id_: str, hash_: str, size: int, mtime_ns: int,
                     error: str, first_seen: datetime, draft: bool = False) -> None:
        """Store an unpublished file: rejected for ``error``, or a ``draft`` held back by that marker.
        Its key and id are kept for the day it is published."""
        with self.batch():
            self._drop(path)
            self._db.execute(
                "INSERT INTO documents (path, key, id, hash, size, mtime_ns, error, draft, first_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, key, id_, hash_, size, mtime_ns, error, int(draft), _seconds(first_seen)),
            )

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        """Same bytes, new stat: remember it so the next scan need not read it."""
        with self.batch():
            self._db.execute("UPDATE documents SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))
            self._db.execute(
                "UPDATE feed_members SET mtime_ns = ? WHERE key = (SELECT key FROM documents WHERE path = ?)",
                (mtime_ns, path),
            )

    def distinct_updated(self, moment: datetime, key: str, path: str) -> datetime:
        """``moment`` as the ``updated`` of the document ``key`` at ``path``: a whole second given the
        fraction :func:`feedd.document.tie_broken` draws from the key, then, if another published
        document holds that microsecond already, the first free one after it."""
        moment = document.tie_broken(moment, key)
        wanted = _micros(moment)
        # One query, the first free microsecond from ``wanted`` on, not one query a microsecond:
        # files written faster than the clock ticks (a burst, a tar) share one. The search walks
        # the taken ones from where this transaction's last search for ``wanted`` ended (all
        # before it were taken then, and none is freed until a row is dropped), not from
        # ``wanted``: the thousandth of a burst would walk the 999 before it.
        start = self._taken_up_to.get(wanted, wanted)
        taken = "SELECT 1 FROM documents WHERE updated = {} AND error IS NULL AND path != :path"
        free = self._db.execute(
            f"SELECT CASE WHEN NOT EXISTS ({taken.format(':wanted')}) THEN :wanted"
            f" WHEN NOT EXISTS ({taken.format(':start')}) THEN :start"
            f" ELSE (SELECT d.updated + 1 FROM documents d WHERE d.updated >= :start AND d.error IS NULL"
            f" AND d.path != :path AND NOT EXISTS ({taken.format('d.updated + 1')}) ORDER BY d.updated LIMIT 1) END",
            {"wanted": wanted, "start": start, "path": path}).fetchone()[0]
        if self._db.in_transaction:
            self._taken_up_to[wanted] = free
        return moment + timedelta(microseconds=free - wanted)

    def remove(self, path: str, now: datetime | None = None) -> Document | None:
        """Drop ``path``; with ``now``, remember it as a tombstone (it may reappear, moved)."""
        doc = self.get(path)
        with self.batch():
            if doc and now is not None:
                self._db.execute(
                    "INSERT INTO tombstones (hash, path, key, id, published, updated, removed)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (doc.hash, doc.path, doc.key, doc.id, _seconds(doc.published), _micros(doc.updated), _seconds(now)),
                )
            self._drop(path)
        return doc

    def take_tombstone(self, hash_: str) -> FileState | None:
        """The newest removed document with these bytes whose key is free, consumed."""
        rows = self._db.execute(
            "SELECT rowid, path, key, id, published, updated FROM tombstones WHERE hash = ?"
            " ORDER BY removed DESC, rowid DESC",
            (hash_,),
        ).fetchall()
        for rowid, path, key, id_, published, updated in rows:
            if self.key_owner(key) is None:
                self._db.execute("DELETE FROM tombstones WHERE rowid = ?", (rowid,))
                return FileState(path, key, id_, hash_, 0, 0, _optional_datetime(published),
                                 _optional_micros(updated), None)
        return None

    def _drop(self, path: str) -> None:
        row = self._db.execute("SELECT key FROM documents WHERE path = ?", (path,)).fetchone()
        if row:
            self._taken_up_to.clear()  # its microsecond is free again
            self._db.execute("DELETE FROM feed_members WHERE key = ?", (row[0],))
            self._db.execute("DELETE FROM documents WHERE path = ?", (path,))

    # -- feeds --------------------------------------------------------------

    def register_feeds(self, feeds: list[Feed], from_rules: bool = False) -> None:
        """Remember every feed ever published, so that none turns into a 404 (a retired one: a 410).

        Each document registers its feeds, and each publish the configured ones: a feed
        whose last registration said the same is skipped, as writing it again would change
        nothing (a batch of 256 documents names a few dozen feeds ~1,000 times, and each
        drop all of them again). A rollback forgets what was said (:meth:`_forget_feeds`).
        """
        rows = [row for row in ((f.name, f.kind, f.title, f.lang, int(from_rules)) for f in feeds)
                if self._registered.get((row[0], row[4])) != row]
        if not rows:
            return
        self._feeds = None
        self._db.executemany(
            "INSERT INTO feeds (name, kind, title, lang, from_rule) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET title = excluded.title, from_rule = max(from_rule, excluded.from_rule)",
            rows,
        )
        self._registered.update(((row[0], row[4]), row) for row in rows)

    def _forget_feeds(self) -> None:
        self._registered.clear()
        self._feeds = None

    def rule_feeds(self) -> set[str]:
        """Feeds a topic rule made, now or once."""
        return {row[0] for row in self._db.execute("SELECT name FROM feeds WHERE from_rule = 1")}

    def has_members(self, feed_name: str) -> bool:
        """Does any document, embargoed or not, belong to this feed?"""
        return self._db.execute("SELECT 1 FROM feed_members WHERE feed = ? LIMIT 1", (feed_name,)).fetchone() is not None

    def emptied(self, feed: Feed, now: datetime, empty: bool) -> datetime | None:
        """When ``feed`` was left without entries (the time it changed last), or None while it has
        some: kept from the first time it is seen empty, so that republishing changes no byte."""
        if not empty:
            self._db.execute("UPDATE feeds SET emptied = NULL WHERE name = ? AND emptied IS NOT NULL", (feed.name,))
            return None
        self._db.execute("UPDATE feeds SET emptied = ? WHERE name = ? AND emptied IS NULL", (_micros(now), feed.name))
        row = self._db.execute("SELECT emptied FROM feeds WHERE name = ?", (feed.name,)).fetchone()
        return _from_micros(row[0]) if row and row[0] is not None else now

    def feeds(self) -> list[Feed]:
        """Every feed ever registered, of every kind, in the registry's order: kept until one is
        registered (only :meth:`register_feeds` changes them; each publish asks, ~200 at 100,000)."""
        if self._feeds is None:
            self._feeds = registry.ordered(Feed(*row) for row in
                                           self._db.execute("SELECT name, kind, title, lang FROM feeds"))
        return list(self._feeds)

    def latest(self, feed: Feed, now: datetime, limit: int) -> list[Document]:
        """The newest ``limit`` documents of ``feed`` published by ``now``."""
        heads = self._db.execute(
            f"SELECT {_D_HEAD_COLUMNS} FROM feed_members m JOIN documents d ON d.key = m.key"
            " WHERE m.feed = ? AND m.published <= ?"
            " ORDER BY m.published DESC, m.mtime_ns DESC, m.key DESC LIMIT ?",
            (feed.name, _seconds(now), limit)).fetchall()
        return self._whole(heads)

    def _whole(self, heads: list[tuple]) -> list[Document]:
        """The documents these head rows (:data:`_HEAD_COLUMNS`) stand for, text and all.

        Kept by their head row: a document's text follows from its bytes and path, which the
        row holds (as ``hash`` and ``path``), so a row never stands for another text. A daemon's
        drops ask for the same few hundred documents drop after drop.
        """
        found = {head[1]: doc for head in heads if (doc := self._documents.get(head)) is not None}
        missing = [head[1] for head in heads if head[1] not in found]
        keep = len(heads) <= DOCUMENTS_KEPT // 2  # more at once (a build's long feeds) would only churn
        for start in range(0, len(missing), 500):
            part = missing[start:start + 500]
            rows = self._db.execute(f"SELECT {_D_COLUMNS} FROM documents d"
                                    f" WHERE d.key IN ({','.join('?' * len(part))})", part)
            for row in rows:
                found[row[1]] = doc = _document(row)
                if keep:
                    self._documents[row[:len(_HEAD_COLUMNS)]] = doc
        return [found[head[1]] for head in heads]

    def members(self, feed: Feed) -> list[str]:
        """Keys of every document of ``feed``, embargoed ones too, newest first."""
        rows = self._db.execute("SELECT key FROM feed_members WHERE feed = ?"
                                " ORDER BY published DESC, mtime_ns DESC, key DESC", (feed.name,))
        return [row[0] for row in rows]

    def published_between(self, after: datetime, until: datetime) -> list[Document]:
        """Documents whose embargo ended in (after, until]."""
        rows = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE error IS NULL"
            " AND published > ? AND published <= ? ORDER BY published, key",
            (_seconds(after), _seconds(until)),
        )
        return [_document(row) for row in rows]

    def next_embargo(self, now: datetime) -> datetime | None:
        row = self._db.execute(
            "SELECT MIN(published) FROM documents WHERE error IS NULL AND published > ?", (_seconds(now),)
        ).fetchone()
        return _datetime(row[0]) if row and row[0] is not None else None

    # -- article pages --------------------------------------------------------

    def pages_to_render(self, now: datetime, on_disk: set[str] | None = None) -> list[str]:
        """Keys of published documents whose page was never rendered (or is missing on disk).

        Keys, not documents: at 100,000 documents the pages' text would not fit
        in the memory budget at once (:meth:`documents_by_key` fetches a slice).
        """
        keys = {row[0] for row in self._db.execute(
            "SELECT key FROM documents WHERE error IS NULL AND page_stamp IS NULL AND published <= ?",
            (_seconds(now),))}
        if on_disk is not None:
            keys |= {k for k in self.published_keys(now) if f"{k}.html" not in on_disk}
        return sorted(keys)

    def documents_by_key(self, keys: list[str]) -> list[Document]:
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE key IN ({marks})", keys)
        found = {row[1]: _document(row) for row in rows}
        return [found[key] for key in keys if key in found]

    def mark_pages(self, stamp: str, docs: list[Document]) -> None:
        self._db.executemany("UPDATE documents SET page_stamp = ? WHERE key = ?", [(stamp, d.key) for d in docs])

    def stamp_pages(self, stamp: str) -> None:
        """What article pages are rendered with now: when that changes, every page is to render again."""
        self._restamp("page_stamp", stamp, "UPDATE documents SET page_stamp = NULL WHERE page_stamp IS NOT NULL")

    def _restamp(self, name: str, stamp: str, clear: str, params: tuple = ()) -> None:
        """Record ``stamp`` as meta ``name``; when it changes, ``clear`` the pages rendered with
        another, once, so that a drop asks only for the pages without a stamp."""
        if self.meta(name) != stamp:
            with self.batch():
                self._db.execute(clear, params)
                self.set_meta(name, stamp)

    def published_keys(self, now: datetime) -> set[str]:
        rows = self._db.execute("SELECT key FROM documents WHERE error IS NULL AND published <= ?", (_seconds(now),))
        return {row[0] for row in rows}

    def is_published(self, key: str, now: datetime) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM documents WHERE key = ? AND error IS NULL AND published <= ?", (key, _seconds(now))
        ).fetchone()
        return row is not None

    # -- archives (RFC 5005) ----------------------------------------------------

    def _older_than(self, feed: Feed, boundary: str, order: str, by_key: bool = False) -> tuple[str, str, dict]:
        """SQL, its ORDER BY and parameters: keys of ``feed``'s documents older than the one keyed ``boundary``.

        ``by_key``: the caller narrows it to a few keys: look those up by key rather than
        range over the feed's whole past (SQLite would take the primary key's range).
        """
        published, mtime_ns = self._db.execute(
            "SELECT published, mtime_ns FROM documents WHERE key = ?", (boundary,)).fetchone()
        source = "feed_members m INDEXED BY feed_members_by_key" if by_key else "feed_members m"
        sql = (f"SELECT m.key FROM {source} WHERE m.feed = :feed"
               " AND (m.published, m.mtime_ns, m.key) < (:b_published, :b_mtime, :b_key)")
        ordering = f" ORDER BY m.published {order}, m.mtime_ns {order}, m.key {order}"
        return sql, ordering, {"feed": feed.name, "b_published": published, "b_mtime": mtime_ns, "b_key": boundary}

    def keys_before(self, feed: Feed, boundary: str, only: set[str] | None = None) -> list[str]:
        """Keys of ``feed``'s documents older than the one keyed ``boundary`` (or of ``only`` those), oldest first."""
        sql, ordering, params = self._older_than(feed, boundary, "ASC", by_key=only is not None)
        if only is not None:
            if not only:
                return []
            params.update({f"k{i}": key for i, key in enumerate(sorted(only))})
            sql += f" AND m.key IN ({','.join(f':k{i}' for i in range(len(only)))})"
        return [row[0] for row in self._db.execute(sql + ordering, params)]

    def departed(self, feed: Feed, boundary: str, changed: set[str], chunk: int = 64) -> list[str]:
        """Documents just older than ``boundary`` on no archive page yet: those that left the current feed.

        Walks back from the boundary and stops at the first archived document
        that did not change: everything older was archived when it left.
        """
        sql, ordering, params = self._older_than(feed, boundary, "DESC")
        rows = self._db.execute(sql + ordering, params)
        found = []
        size = 4  # first a few: after a drop, one left and the next was archived before
        while keys := [row[0] for row in rows.fetchmany(size)]:
            size = chunk
            pages = self.archived(feed, set(keys))
            for key in keys:
                if key not in pages:
                    found.append(key)
                elif key not in changed:
                    return found
        return found

    def archived(self, feed: Feed, keys: set[str] | None = None) -> dict[str, int]:
        """The page of each archived document of ``feed`` (of ``keys`` only, if given)."""
        if keys is None:
            rows = self._db.execute("SELECT key, page FROM archive_entries WHERE feed = ?", (feed.name,))
            return dict(rows)
        found = {}
        keys = sorted(keys)
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            rows = self._db.execute(f"SELECT key, page FROM archive_entries WHERE feed = ?"
                                    f" AND key IN ({','.join('?' * len(part))})", (feed.name, *part))
            found.update(rows)
        return found

    def archive_tail(self, feed: Feed) -> tuple[int, int]:
        """The newest archive page of ``feed`` and how many entries were put on it: (0, 0) for none."""
        row = self._db.execute("SELECT page, filled FROM archive_pages WHERE feed = ? ORDER BY page DESC LIMIT 1",
                               (feed.name,)).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def archive(self, feed: Feed, placed: list[tuple[str, int]], removed: list[str], touched: set[int]) -> None:
        """Put documents on pages, take others off, and mark every page concerned for rendering."""
        self._db.executemany("DELETE FROM archive_entries WHERE feed = ? AND key = ?",
                             [(feed.name, key) for key in removed])
        self._db.executemany("INSERT OR REPLACE INTO archive_entries (feed, key, page) VALUES (?, ?, ?)",
                             [(feed.name, key, page) for key, page in placed])
        filled: dict[int, int] = {}
        for _, page in placed:
            filled[page] = filled.get(page, 0) + 1
        self._db.executemany(
            "INSERT INTO archive_pages (feed, page, filled, stamp) VALUES (?, ?, ?, NULL)"
            " ON CONFLICT(feed, page) DO UPDATE SET filled = filled + excluded.filled, stamp = NULL",
            [(feed.name, page, count) for page, count in filled.items()])
        self._db.executemany("UPDATE archive_pages SET stamp = NULL WHERE feed = ? AND page = ?",
                             [(feed.name, page) for page in touched])

    def archive_pages(self, feed: Feed, unrendered: bool = False) -> dict[int, str | None]:
        """Every archive page of ``feed`` and the stamp it was rendered with; ``unrendered``: only
        the pages to render again (no stamp: see :meth:`stamp_archive_pages`)."""
        if not unrendered:
            return dict(self._db.execute("SELECT page, stamp FROM archive_pages WHERE feed = ?", (feed.name,)))
        return dict(self._db.execute("SELECT page, stamp FROM archive_pages INDEXED BY archive_pages_unrendered"
                                     " WHERE feed = ? AND stamp IS NULL", (feed.name,)))

    def stamp_archive_pages(self, stamp: str) -> None:
        """What archive pages are rendered with now: a page rendered with anything else is to render again."""
        self._restamp("archive_stamp", stamp, "UPDATE archive_pages SET stamp = NULL WHERE stamp IS NOT ?", (stamp,))

    def archive_page(self, feed: Feed, page: int, text: bool = True) -> list[Document]:
        """The documents on one archive page, newest first.

        ``text=False``: without their text (title, summary, content, author,
        link left empty), for a caller that already holds their rendered entries.
        """
        columns = _D_COLUMNS if text else _D_HEAD_COLUMNS
        rows = self._db.execute(
            f"SELECT {columns} FROM archive_entries a JOIN documents d ON d.key = a.key"
            " WHERE a.feed = ? AND a.page = ?"
            " ORDER BY d.published DESC, d.mtime_ns DESC, d.key DESC", (feed.name, page))
        return [_document(row) for row in rows] if text else [self._headed(row) for row in rows]

    def _headed(self, row: tuple) -> Document:
        """A head row's document without its text, the same object as long as the row is the same:
        each drop re-renders its feeds' open archive pages, whose other hundred documents are
        unchanged, and a document computes what its renderings are keyed by once."""
        doc = self._heads.get(row)
        if doc is None:
            doc = self._heads[row] = _head(row)
        return doc

    def archive_page_starts(self, feed: Feed, pages: list[int]) -> dict[int, int]:
        """Each of these archive pages' oldest date (UTC seconds): the order to render many pages in."""
        marks = ",".join("?" * len(pages))
        return dict(self._db.execute(
            "SELECT a.page, MIN(d.published) FROM archive_entries a JOIN documents d ON d.key = a.key"
            f" WHERE a.feed = ? AND a.page IN ({marks}) GROUP BY a.page", (feed.name, *pages)))

    def mark_archive_page(self, feed: Feed, page: int, stamp: str) -> None:
        self._db.execute("UPDATE archive_pages SET stamp = ? WHERE feed = ? AND page = ?", (stamp, feed.name, page))

    # -- meta ------------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _micros(moment: datetime) -> int:
    return (int(moment.timestamp()) * 1_000_000) + moment.microsecond


def _from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _optional_micros(micros: int | None) -> datetime | None:
    return None if micros is None else _from_micros(micros)


def _file_state(row) -> FileState:
    path, key, id_, hash_, size, mtime_ns, published, updated, error = row
    return FileState(path, key, id_, hash_, size, mtime_ns, _optional_datetime(published),
                     _optional_micros(updated), error)


def _optional_datetime(seconds: int | None) -> datetime | None:
    return None if seconds is None else _datetime(seconds)


@lru_cache(maxsize=4096)
def _topics(stored: str) -> tuple[Topic, ...]:
    """A document's topics as stored (JSON): the same few combinations come back row after row."""
    return tuple(Topic(slug, name) for slug, name in json.loads(stored))


def _head(row) -> Document:
    """A document without its text (:data:`_HEAD_COLUMNS`), for a caller that holds its renderings."""
    return _document(tuple(row) + _NO_TEXT)


_NO_TEXT = ("", None, None, "", "")


def _document(row) -> Document:
    path, key, id_, hash_, published, updated, lang, topics, title, author, link, summary, content_html = row
    return Document(
        path=path, key=key, id=id_, hash=hash_, title=title,
        published=_datetime(published), updated=_from_micros(updated), lang=lang,
        topics=_topics(topics),
        author=author, link=link, summary=summary, content_html=content_html,
    )
