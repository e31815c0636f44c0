"""The index's contract, method by method, on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from feedd.index import SCHEMA_VERSION, Index, NoIndex
from feedd.model import Document, Feed, Topic

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
ALL = Feed("all", "all", "Everything")
UKRAINE = Feed("topics/ukraine", "topic", "Ukraine")
FRENCH = Feed("languages/fr", "language", "French (français)", "fr")
ANAIS = Feed("authors/anais", "author", "Anaïs")
UKRAINE_FR = Feed("topics/ukraine/fr", "topic-language", "Ukraine in French (français)", "fr")


def doc(n: int, published: datetime = NOW - DAY, lang="fr", topics=("ukraine",), author="Anaïs", **fields) -> Document:
    values = dict(path=f"d{n}.txt", key=f"d{n}", id=f"tag:x,2026:d{n}", hash=f"h{n}", title=f"Title {n}",
                  published=published, updated=published, lang=lang, topics=tuple(Topic(t, t.title()) for t in topics),
                  author=author, link=None, summary=f"Summary {n}", content_html=f"<p>Body {n}</p>")
    values.update(fields)
    return Document(**values)


@pytest.fixture
def index(tmp_path):
    with Index(tmp_path / "state" / "index.sqlite3") as opened:
        yield opened


def keys(docs) -> list[str]:
    return [d.key for d in docs]


def test_a_document_comes_back_as_it_was_put(index):
    original = doc(1, link="https://example.org/x")
    index.put(original, size=10, mtime_ns=5, first_seen=NOW)
    assert index.get("d1.txt") == original
    state = index.file_state("d1.txt")
    assert (state.key, state.id, state.hash, state.size, state.mtime_ns, state.error) == ("d1", original.id, "h1", 10, 5, None)
    assert index.key_owner("d1") == "d1.txt" and index.key_owner("nobody") is None
    assert index.paths_with_hash("h1") == ["d1.txt"]
    # Put again at the same path: replaced, never duplicated.
    index.put(doc(1, title="Edited", topics=()), size=11, mtime_ns=6, first_seen=NOW)
    assert index.get("d1.txt").title == "Edited"
    assert keys(index.latest(UKRAINE, NOW, 10)) == []
    assert len(list(index.documents())) == 1


def test_latest_is_one_query_for_every_kind(index):
    index.put(doc(1, NOW - 3 * DAY), 1, 1, NOW)
    index.put(doc(2, NOW - 2 * DAY, lang="en", author=None), 1, 1, NOW)
    index.put(doc(3, NOW - 1 * DAY, topics=()), 1, 1, NOW)
    assert keys(index.latest(ALL, NOW, 10)) == ["d3", "d2", "d1"]
    assert keys(index.latest(UKRAINE, NOW, 10)) == ["d2", "d1"]
    assert keys(index.latest(FRENCH, NOW, 10)) == ["d3", "d1"]
    assert keys(index.latest(ANAIS, NOW, 10)) == ["d3", "d1"]
    assert keys(index.latest(UKRAINE_FR, NOW, 10)) == ["d1"]
    assert keys(index.latest(ALL, NOW, 2)) == ["d3", "d2"]
    assert index.latest(Feed("topics/none", "topic", "None"), NOW, 10) == []


def test_same_date_ties_go_by_modification_time_then_key_and_touch_moves_them(index):
    index.put(doc(1), 1, 100, NOW)
    index.put(doc(2), 1, 200, NOW)
    index.put(doc(3), 1, 200, NOW)
    assert keys(index.latest(UKRAINE, NOW, 10)) == ["d3", "d2", "d1"]
    index.touch("d1.txt", 1, 300)
    assert keys(index.latest(UKRAINE, NOW, 10)) == ["d1", "d3", "d2"]
    assert keys(index.latest(ALL, NOW, 10)) == ["d1", "d3", "d2"]
    assert index.file_state("d1.txt").mtime_ns == 300


def test_embargoed_documents_are_members_but_not_yet_published(index):
    index.put(doc(1), 1, 1, NOW)
    index.put(doc(2, NOW + DAY), 1, 1, NOW)
    assert keys(index.latest(ALL, NOW, 10)) == ["d1"]
    assert index.members(ALL) == ["d2", "d1"]
    assert index.next_embargo(NOW) == NOW + DAY
    assert keys(index.published_between(NOW, NOW + 2 * DAY)) == ["d2"]
    assert index.counts(NOW) == {"published": 1, "embargoed": 1, "rejected": 0, "drafts": 0}
    assert index.published_keys(NOW) == {"d1"} and index.is_published("d1", NOW) and not index.is_published("d2", NOW)


def test_removal_leaves_every_feed_and_a_tombstone_that_a_move_takes_once(index):
    index.put(doc(1), 1, 1, NOW)
    removed = index.remove("d1.txt", NOW)
    assert removed.key == "d1" and index.get("d1.txt") is None
    for feed in (ALL, UKRAINE, FRENCH, ANAIS, UKRAINE_FR):
        assert index.members(feed) == []
    found = index.take_tombstone("h1")
    assert (found.path, found.key, found.id) == ("d1.txt", "d1", "tag:x,2026:d1")
    assert index.take_tombstone("h1") is None  # consumed


def test_a_tombstone_whose_key_is_taken_again_is_passed_over(index):
    index.put(doc(1), 1, 1, NOW)
    index.remove("d1.txt", NOW)
    index.put(doc(9, key="d1", path="other.txt", hash="h9"), 1, 1, NOW)
    assert index.take_tombstone("h1") is None


def test_rejected_files_are_listed_and_in_no_feed(index):
    index.put(doc(1), 1, 1, NOW)
    index.put_rejected("d1.txt", "d1", "tag:x,2026:d1", "hbad", 3, 4, "empty document (no text)", NOW)
    assert index.get("d1.txt") is None
    assert index.rejected() == [("d1.txt", "empty document (no text)")]
    assert index.file_state("d1.txt").error == "empty document (no text)"
    assert index.members(ALL) == [] and index.counts(NOW)["rejected"] == 1


def test_counts_follow_every_change(index):
    """The published count comes from a tally the database keeps: it must match a count of the rows."""
    def counted():
        return index.counts(NOW), index._db.execute("SELECT count(*) FROM documents WHERE error IS NULL").fetchone()[0]

    index.put(doc(1), 1, 1, NOW)
    index.put(doc(2, published=NOW + DAY), 1, 1, NOW)  # embargoed
    index.put(doc(1, title="Edited"), 1, 2, NOW)  # replaced at its path: still one
    index.put_rejected("bad.txt", "bad", "tag:x,2026:bad", "hbad", 3, 4, "empty document (no text)", NOW)
    index.put_rejected("wip.txt", "wip", "tag:x,2026:wip", "hwip", 3, 4, "draft: true", NOW, draft=True)
    counts, rows = counted()
    assert counts == {"published": 1, "embargoed": 1, "rejected": 1, "drafts": 1} and rows == 2
    index.put_rejected("d1.txt", "d1", "tag:x,2026:d1", "h1bad", 3, 4, "empty document (no text)", NOW)
    index.remove("d2.txt", NOW)
    index.put(doc(3, path="bad.txt", key="bad"), 1, 1, NOW)  # the rejected file, mended
    counts, rows = counted()
    assert counts == {"published": 1, "embargoed": 0, "rejected": 1, "drafts": 1} and rows == 1


def test_an_index_before_the_tally_is_counted_on_opening(tmp_path):
    path = tmp_path / "index.sqlite3"
    with Index(path) as index:
        for n in range(3):
            index.put(doc(n), 1, 1, NOW)
    with sqlite3.connect(path) as db:  # back to schema 4: no tally
        db.executescript("DROP TRIGGER tally_insert; DROP TRIGGER tally_delete; DROP TRIGGER tally_update;"
                         "DROP TABLE tally; PRAGMA user_version = 4;")
    with Index(path) as index:
        assert index.counts(NOW)["published"] == 3
        index.put(doc(9), 1, 1, NOW)
        assert index.counts(NOW)["published"] == 4


def test_a_scan_is_compared_with_the_index_in_its_own_order(index):
    index.put(doc(1), size=10, mtime_ns=5, first_seen=NOW)  # unchanged below
    index.put(doc(2), size=10, mtime_ns=5, first_seen=NOW)  # touched below
    index.put(doc(3), size=10, mtime_ns=5, first_seen=NOW)  # gone below
    index.put_rejected("bad.txt", "bad", "tag:x,2026:bad", "hbad", 3, 4, "cannot read: permission denied", NOW)
    scan = [("z-new.txt", 1, 1), ("d2.txt", 10, 6), ("d1.txt", 10, 5), ("bad.txt", 3, 4), ("a-new.txt", 2, 2)]
    differ, unmatched, seen = index.compare(iter(scan))
    assert [(seed, state.key if state else None) for seed, state in differ] == [
        (("z-new.txt", 1, 1), None), (("d2.txt", 10, 6), "d2"), (("bad.txt", 3, 4), "bad"), (("a-new.txt", 2, 2), None)]
    assert [state.path for state in unmatched] == ["d3.txt"] and seen == 5
    differ, unmatched, seen = index.compare(iter([]))
    assert (differ, sorted(unmatched, key=lambda s: s.path), seen) == (
        [], sorted(index.file_states().values(), key=lambda s: s.path), 0)


def test_an_archive_pages_heads_are_kept_while_their_rows_stand(index):
    """A drop re-renders its feeds' open archive pages: their documents without text come back as
    the same objects while their rows are unchanged, and as they are now once one changes."""
    for n in (1, 2, 3):
        index.put(doc(n, published=NOW - DAY * n), size=10, mtime_ns=n, first_seen=NOW)
    index.archive(ALL, [("d1", 1), ("d2", 1), ("d3", 1)], [], set())
    first = index.archive_page(ALL, 1, text=False)
    assert [d.key for d in first] == ["d1", "d2", "d3"] and all(d.title == "" for d in first)
    again = index.archive_page(ALL, 1, text=False)
    assert all(a is b for a, b in zip(first, again))
    index.put(doc(2, published=NOW - DAY * 2, topics=("peace",)), size=11, mtime_ns=9, first_seen=NOW)
    now = index.archive_page(ALL, 1, text=False)
    assert now[0] is first[0] and now[2] is first[2]
    assert now[1] is not first[1] and [t.slug for t in now[1].topics] == ["peace"]
    assert [t.slug for t in index.archive_page(ALL, 1)[1].topics] == ["peace"]


def test_archive_pages_not_rendered_with_the_stamp_are_asked_for_alone(index):
    index.archive(ALL, [("d1", 1), ("d2", 2), ("d3", 3)], [], set())
    index.mark_archive_page(ALL, 1, "s1")
    index.mark_archive_page(ALL, 2, "old")
    assert index.archive_pages(ALL) == {1: "s1", 2: "old", 3: None}
    index.stamp_archive_pages("s1")  # a page rendered with another stamp is to render again
    assert index.archive_pages(ALL) == {1: "s1", 2: None, 3: None}
    assert index.archive_pages(ALL, unrendered=True) == {2: None, 3: None}
    index.mark_archive_page(ALL, 2, "s1")
    index.stamp_archive_pages("s1")  # the same stamp: nothing to clear
    assert index.archive_pages(ALL, unrendered=True) == {3: None}
    index.stamp_archive_pages("s2")
    assert index.archive_pages(ALL, unrendered=True) == {1: None, 2: None, 3: None}
    # Found by their own index, not by reading every page of the feed.
    asked = []
    index._db.set_trace_callback(asked.append)
    index.archive_pages(ALL, unrendered=True)
    index._db.set_trace_callback(None)
    plan = index._db.execute(f"EXPLAIN QUERY PLAN {asked[-1]}").fetchall()
    assert "USING INDEX archive_pages_unrendered" in " ".join(str(row) for row in plan)


def test_article_pages_are_rendered_again_when_their_stamp_changes(index):
    docs = [doc(n) for n in (1, 2)]
    for d in docs:
        index.put(d, 1, 1, NOW)
    index.stamp_pages("s1")
    assert index.pages_to_render(NOW) == ["d1", "d2"]
    index.mark_pages("s1", docs)
    index.stamp_pages("s1")  # the same stamp: nothing to render
    assert index.pages_to_render(NOW) == []
    index.stamp_pages("s2")
    assert index.pages_to_render(NOW) == ["d1", "d2"]


def test_latest_documents_kept_between_calls_follow_every_change(index):
    """Whole documents are kept by their head row (feedd.index.Index._whole): an edit (new bytes)
    or a new tagging (same bytes) must still come back as it is now."""
    index.put(doc(1), 1, 1, NOW)
    index.put(doc(2, published=NOW - 2 * DAY), 1, 1, NOW)
    assert [d.title for d in index.latest(ALL, NOW, 10)] == ["Title 1", "Title 2"]
    index.put(doc(1, title="Edited", hash="h1-edited", updated=NOW), 1, 2, NOW)
    index.put(doc(2, published=NOW - 2 * DAY, topics=("energy",)), 1, 1, NOW)
    assert [(d.title, d.topics[0].slug) for d in index.latest(ALL, NOW, 10)] == [("Edited", "ukraine"),
                                                                                 ("Title 2", "energy")]
    for n in range(3, 400):  # more than are kept: read, not kept
        index.put(doc(n, published=NOW - DAY - timedelta(minutes=n)), 1, 1, NOW)
    assert [d.key for d in index.latest(ALL, NOW, 400)] == keys(index.latest(ALL, NOW, 400))
    assert index.latest(ALL, NOW, 400) == [index.get(d.path) for d in index.latest(ALL, NOW, 400)]


def test_states_under_a_folder_are_that_folder_only(index):
    for path in ("a.txt", "a/x.txt", "a/b/y.txt", "a0.txt", "ab/z.txt"):
        index.put(doc(len(path), path=path, key=path.replace("/", "-")), 1, 1, NOW)
    assert sorted(s.path for s in index.file_states_under("a")) == ["a/b/y.txt", "a/x.txt"]
    assert [s.path for s in index.file_states_under("a.txt")] == ["a.txt"]
    assert len(index.file_states()) == 5


def test_feeds_are_registered_once_in_the_registry_order_with_the_newest_title(index):
    index.put(doc(1), 1, 1, NOW)
    assert [f.name for f in index.feeds()] == ["all", "topics/ukraine", "languages/fr", "authors/anais",
                                                "topics/ukraine/fr"]
    index.register_feeds([Feed("topics/ukraine", "topic", "Ukraine (war)")])
    assert next(f for f in index.feeds() if f.name == "topics/ukraine").title == "Ukraine (war)"


def test_a_transaction_writes_each_feed_once_unless_what_it_says_changes(index):
    """Every document registers its feeds: within one transaction a registration that says what
    the last one said is not written again, and the newest title still wins."""
    written = []
    index._db.set_trace_callback(lambda sql: written.append(sql) if sql.startswith("INSERT INTO feeds") else None)
    with index.batch():
        for n in range(50):
            index.put(doc(n), 1, 1, NOW)
        assert len(written) == 5  # five feeds, not 250
        index.register_feeds([Feed("authors/anais", "author", "ANAÏS")])
        index.register_feeds([Feed("authors/anais", "author", "Anaïs")])
    assert len(written) == 7
    assert next(f for f in index.feeds() if f.name == "authors/anais").title == "Anaïs"
    with pytest.raises(RuntimeError), index.batch():
        index.register_feeds([Feed("topics/peace", "topic", "Peace")])
        raise RuntimeError("rolled back")
    index.register_feeds([Feed("topics/peace", "topic", "Peace")])  # written again: the rollback undid it
    assert "topics/peace" in [f.name for f in index.feeds()]
    index._db.set_trace_callback(None)


def test_the_feeds_are_kept_between_transactions_until_a_registration_or_a_rollback_changes_them(index):
    """Each publish registers the configured feeds and asks for all of them: what was said
    already is not written again, and the list kept is the index's, rollbacks included."""
    index.register_feeds([ALL], from_rules=True)
    written = []
    index._db.set_trace_callback(lambda sql: written.append(sql) if sql.startswith("INSERT INTO feeds") else None)
    with index.batch():
        index.register_feeds([ALL], from_rules=True)
    assert written == []
    assert [f.name for f in index.feeds()] == ["all"]
    with pytest.raises(RuntimeError), index.batch():
        index.register_feeds([UKRAINE])
        assert [f.name for f in index.feeds()] == ["all", "topics/ukraine"]
        raise RuntimeError("rolled back")
    assert [f.name for f in index.feeds()] == ["all"]
    index.register_feeds([UKRAINE])
    assert [f.name for f in index.feeds()] == ["all", "topics/ukraine"]
    index._db.set_trace_callback(None)


def test_a_batch_lands_whole_or_not_at_all(index):
    with pytest.raises(RuntimeError):
        with index.batch():
            index.put(doc(1), 1, 1, NOW)
            raise RuntimeError("crash in the middle")
    assert index.get("d1.txt") is None and index.members(ALL) == []


def test_meta_values_round_trip(index):
    assert index.meta("stamp") is None
    index.set_meta("stamp", "a")
    index.set_meta("stamp", "b")
    assert index.meta("stamp") == "b"


def test_a_command_that_only_reads_never_creates_an_index(tmp_path):
    with pytest.raises(NoIndex, match="run feedd build first"):
        Index.existing(tmp_path / "index.sqlite3")
    assert not (tmp_path / "index.sqlite3").exists()


def test_an_index_from_a_newer_feedd_is_refused_not_misread(tmp_path):
    path = tmp_path / "index.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this feedd"):
        Index(path)


SCHEMA_2 = """
CREATE TABLE documents (path TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, id TEXT NOT NULL, hash TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, error TEXT, title TEXT, published INTEGER, updated INTEGER,
    lang TEXT, author TEXT, link TEXT, summary TEXT, content_html TEXT, topics TEXT NOT NULL DEFAULT '[]',
    first_seen INTEGER NOT NULL, page_stamp TEXT);
CREATE INDEX documents_by_lang ON documents(lang, published, mtime_ns, key) WHERE error IS NULL;
CREATE TABLE document_topics (slug TEXT NOT NULL, published INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    key TEXT NOT NULL, PRIMARY KEY (slug, published, mtime_ns, key)) WITHOUT ROWID;
CREATE TABLE feeds (name TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, lang TEXT);
CREATE TABLE archive_entries (feed TEXT NOT NULL, key TEXT NOT NULL, page INTEGER NOT NULL,
    PRIMARY KEY (feed, key)) WITHOUT ROWID;
PRAGMA user_version = 2;
"""


def test_a_schema_2_index_is_migrated_keeping_ids_and_archives(tmp_path):
    path = tmp_path / "index.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_2)
        published = int((NOW - DAY).timestamp())
        db.execute("INSERT INTO documents (path, key, id, hash, size, mtime_ns, title, published, updated, lang,"
                   " author, summary, content_html, topics, first_seen) VALUES"
                   " ('moved.txt', 'k1', 'urn:uuid:1', 'h1', 1, 7, 'T', ?, ?, 'fr', 'Anaïs', 'S', '<p>S</p>', ?, 0)",
                   (published, published, json.dumps([["ukraine", "Ukraine"]])))
        db.execute("INSERT INTO document_topics VALUES ('ukraine', ?, 7, 'k1')", (published,))
        db.execute("INSERT INTO feeds VALUES ('all', 'all', 'Everything', NULL)")
        db.execute("INSERT INTO archive_entries VALUES ('all', 'k1', 1)")
    with Index(path) as index:
        assert index.get("moved.txt").id == "urn:uuid:1"  # the id a move kept survives the migration
        assert index.get("moved.txt").updated == NOW - DAY  # seconds then, microseconds now
        for feed in (ALL, UKRAINE, FRENCH, ANAIS, UKRAINE_FR):
            assert keys(index.latest(feed, NOW, 10)) == ["k1"], feed.name
        assert index.archived(ALL) == {"k1": 1}
        assert index.counts(NOW)["published"] == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "document_topics" not in tables and "feed_members" in tables


def test_a_schema_3_index_gets_microseconds_and_distinct_updated(tmp_path):
    """Schema 3 kept ``updated`` in seconds, where articles of one day tied (DuplicateUpdated)."""
    path = tmp_path / "index.sqlite3"
    day = NOW - DAY
    with Index(path) as index:
        for n, updated in ((1, day), (2, day), (3, day + timedelta(hours=3))):
            index.put(doc(n, updated=updated), 1, n, first_seen=NOW)
    with sqlite3.connect(path) as db:  # back to schema 3: seconds
        db.execute("UPDATE documents SET updated = updated / 1000000")
        db.execute("ALTER TABLE feeds DROP COLUMN emptied")
        db.execute("ALTER TABLE feeds DROP COLUMN from_rule")
        db.execute("ALTER TABLE documents DROP COLUMN draft")
        db.execute("PRAGMA user_version = 3")
    with Index(path) as index:
        updated = {d.key: d.updated for d in index.latest(ALL, NOW, 10)}
        assert updated["d3"] == day + timedelta(hours=3)  # untied: as it was
        assert updated["d1"] != updated["d2"]
        assert all(day < updated[k] < day + timedelta(seconds=1) for k in ("d1", "d2"))
        assert index.distinct_updated(updated["d1"], "d9", "d9.txt") == updated["d1"] + timedelta(microseconds=1)


def test_updated_taken_by_many_gets_the_first_free_microsecond_in_one_query(tmp_path):
    """Files written faster than the clock ticks share their time: each later one gets the first
    free microsecond after it, as a probe one microsecond at a time would, in one query."""
    with Index(tmp_path / "index.sqlite3") as index:
        moment = (NOW - DAY).replace(microsecond=500)
        for n in range(200):  # one run of 200 taken microseconds, a gap, then one more
            index.put(doc(n, updated=moment + timedelta(microseconds=n if n < 199 else 205)), 1, n, first_seen=NOW)
        queries = []
        index._db.set_trace_callback(queries.append)
        assert index.distinct_updated(moment, "new", "new.txt") == moment + timedelta(microseconds=199)
        assert index.distinct_updated(moment + timedelta(microseconds=199), "new", "new.txt") == \
            moment + timedelta(microseconds=199)
        assert index.distinct_updated(moment + timedelta(microseconds=205), "new", "new.txt") == \
            moment + timedelta(microseconds=206)
        assert index.distinct_updated(moment + timedelta(microseconds=3), "d3", "d3.txt") == \
            moment + timedelta(microseconds=3)  # its own time is not taken from it
        assert len(queries) == 4


def test_a_burst_sharing_one_time_walks_only_what_it_has_not_walked_yet(tmp_path):
    """A thousand files of one clock tick: each search for a free microsecond resumes where the
    last one for that time ended in the transaction, not at the first of the run (which made a
    burst quadratic); a dropped document's microsecond is found again, and a new transaction
    starts afresh."""
    with Index(tmp_path / "index.sqlite3") as index:
        moment = (NOW - DAY).replace(microsecond=500)
        steps = [0]

        def step():
            steps[0] += 1
        index._db.set_progress_handler(step, 1)  # one call per SQLite instruction

        def given(n: int) -> tuple[int, int]:
            steps[0] = 0
            updated = index.distinct_updated(moment, f"d{n}", f"d{n}.txt")
            index.put(doc(n, updated=updated), 1, n, first_seen=NOW)
            return (updated - moment) // timedelta(microseconds=1), steps[0]

        with index.batch():
            runs = [given(n) for n in range(300)]
            assert [at for at, _ in runs] == list(range(300))
            assert runs[-1][1] < 3 * runs[2][1]  # the 300th costs what the 3rd did
            index.remove("d7.txt")
            assert given(300)[0] == 7
            assert given(301)[0] == 300
        with index.batch():
            assert given(302)[0] == 301
