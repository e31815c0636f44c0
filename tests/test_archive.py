"""RFC 5005 archives: walking prev-archive from a current feed visits every document once."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from urllib.request import urlopen

import pytest
from lxml import etree

from conftest import SMALL_ARCHIVES, Project, parse_feed
from feedd.archive import plan
from feedd.build import build
from feedd.publish import PublishPlan, publish
from feedd.reconcile import sync
from feedd.config import load_config
from feedd.index import Index
from feedd.serve import FeedServer

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
BASE = "http://example.test/news/"
ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
TEXTS = {
    "en": "The council met again on Monday to discuss the budget of the city and the new bridge over the river.",
    "fr": "Le conseil municipal s'est réuni lundi pour discuter du budget de la ville et du nouveau pont sur le fleuve.",
}


START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def seed_text(n: int, day: datetime, lang: str = "en", extra: str = "") -> str:
    return f" date {day:%Y-%m-%d} Article {n}. {TEXTS[lang]} {extra}\n"


def seed_series(project: Project, stop: int, start: int = 0) -> None:
    """Articles ``a<n>.txt``, one a day from START."""
    for n in range(start, stop):
        project.seed(f"a{n:03}.txt", seed_text(n, START + timedelta(days=n)))


def changed_pages(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    return sorted(p for p in after if p.startswith("all/archive/") and after[p] != before.get(p))


def links(root: etree._Element) -> dict[str, str]:
    return {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}


def walk(project: Project, feed: str) -> tuple[list[str], list[str]]:
    """Entry ids from the current feed back through every prev-archive page, and the pages visited."""
    data = (project.feeds / feed).read_bytes()
    seen, pages = [], []
    while True:
        parse_feed(data)
        root = etree.fromstring(data)
        seen += [entry.findtext(f"{ATOM}id") for entry in root.findall(f"{ATOM}entry")]
        previous = links(root).get("prev-archive")
        if previous is None:
            return seen, pages
        assert previous.startswith(BASE)
        relpath = previous[len(BASE):]
        assert relpath not in pages, "the chain loops"
        pages.append(relpath)
        data = (project.feeds / relpath).read_bytes()
        root = etree.fromstring(data)
        assert root.find(f"{FH}archive") is not None, f"{relpath} lacks fh:archive"
        assert links(root)["current"] == BASE + feed
        assert links(root)["self"] == previous


def published_ids(project: Project, feed: str = "all") -> set[str]:
    with Index(project.config.index_path) as index:
        feeds = {f.name: f for f in index.feeds()}
        return {doc.id for doc in index.latest(feeds[feed], NOW, 10**9)}


def assert_walk_is_complete(project: Project, feed: str = "all.atom") -> list[str]:
    seen, pages = walk(project, feed)
    assert len(seen) == len(set(seen)), "a document is visited twice"
    assert set(seen) == published_ids(project, feed.removesuffix(".atom"))
    return pages


@pytest.fixture
def small(tmp_path) -> Project:
    return Project(tmp_path, SMALL_ARCHIVES)


# -- the plan alone ------------------------------------------------------------------

def test_plan_fills_pages_oldest_first_and_opens_the_next_when_full():
    result = plan(["a", "b", "c", "d", "e"], {}, set(), (0, 0), size=2)
    assert result.placed == [("a", 1), ("b", 1), ("c", 2), ("d", 2), ("e", 3)]
    assert result.touched == {1, 2, 3} and not result.removed


def test_plan_never_moves_an_entry_and_a_gap_is_not_refilled():
    have = {"a": 1, "b": 1, "c": 2}
    result = plan(["a", "c", "x"], have, set(), (2, 1), size=2)
    assert result.removed == ["b"]
    assert result.placed == [("x", 2)]  # page 2 had room; page 1's gap stays a gap
    assert result.touched == {1, 2}


def test_plan_touches_the_page_of_an_edit_and_the_page_that_gains_a_successor():
    result = plan(["a", "b", "c"], {"a": 1, "b": 1}, {"a"}, (1, 2), size=2)
    assert result.placed == [("c", 2)]
    assert result.touched == {1, 2}  # 1: the edit of "a" and its new next-archive link
    assert not plan(["a", "b"], {"a": 1, "b": 1}, set(), (1, 2), size=2)


# -- a real build ----------------------------------------------------------------------

def test_walking_the_chain_visits_every_document_once(small):
    for n in range(57):
        small.seed(f"a{n:03}.txt", seed_text(n, START + timedelta(days=n), "fr" if n % 3 == 0 else "en",
                                             "Zelensky" if n % 4 == 0 else ""))
    build(small.config, now=NOW)
    pages = assert_walk_is_complete(small, "all.atom")
    assert pages == [f"all/archive/{n}.atom" for n in (5, 4, 3, 2, 1)]  # 47 archived: 4 full pages and 7
    assert_walk_is_complete(small, "languages/fr.atom")
    assert_walk_is_complete(small, "topics/ukraine.atom")
    # A closed page links forward; the newest has no successor; RSS and JSON carry no archive links.
    first = etree.fromstring((small.feeds / "all/archive/1.atom").read_bytes())
    assert links(first)["next-archive"] == BASE + "all/archive/2.atom" and "prev-archive" not in links(first)
    assert "next-archive" not in links(etree.fromstring((small.feeds / "all/archive/5.atom").read_bytes()))
    assert b"archive" not in (small.feeds / "all.rss").read_bytes()
    # Archive pages hold their entries newest first, like the feed.
    titles = [e.title for e in parse_feed((small.feeds / "all/archive/1.atom").read_bytes()).entries]
    assert titles[0].startswith("Article 9.") and titles[-1].startswith("Article 0.")


def test_full_pages_keep_their_bytes_as_the_feed_grows(small):
    seed_series(small, 35)
    build(small.config, now=NOW)
    before = small.outputs()
    assert "all/archive/3.atom" in before and "all/archive/4.atom" not in before  # 25 archived: 10, 10, 5
    seed_series(small, 52, start=35)
    build(small.config, now=NOW)
    after = small.outputs()
    assert after["all/archive/1.atom"] == before["all/archive/1.atom"]
    assert after["all/archive/2.atom"] == before["all/archive/2.atom"]
    assert after["all/archive/3.atom"] != before["all/archive/3.atom"]  # filled up, gained its successor
    assert_walk_is_complete(small)


def test_edits_and_deletions_of_old_documents_change_only_their_page(small):
    seed_series(small, 40)
    build(small.config, now=NOW)
    before = small.outputs()
    small.seed("a003.txt", seed_text(3, START + timedelta(days=3), extra="Corrected."))  # on page 1
    (small.seeds / "a015.txt").unlink()  # on page 2
    build(small.config, now=NOW)
    after = small.outputs()
    assert changed_pages(before, after) == ["all/archive/1.atom", "all/archive/2.atom"]
    assert b"Corrected." in after["all/archive/1.atom"]
    assert_walk_is_complete(small)


def test_a_backdated_document_joins_the_newest_page_and_nothing_else_moves(small):
    seed_series(small, 35)
    build(small.config, now=NOW)
    before = small.outputs()
    small.seed("old.txt", seed_text(99, datetime(2020, 1, 1, tzinfo=timezone.utc)))
    build(small.config, now=NOW)
    after = small.outputs()
    assert changed_pages(before, after) == ["all/archive/3.atom"]
    assert_walk_is_complete(small)


def test_an_archived_document_edited_to_a_new_date_moves_back_into_the_feed(small):
    seed_series(small, 30)
    build(small.config, now=NOW)
    small.seed("a002.txt", seed_text(2, START + timedelta(days=300)))
    build(small.config, now=NOW)
    seen, _ = walk(small, "all.atom")
    assert seen[0].endswith(small.feed("all.atom").entries[0].id.rsplit(":", 1)[1])
    assert_walk_is_complete(small)


def test_author_and_topic_language_chains_visit_every_document_once(small):
    """The kinds added through the registry archive like the others: their walks are whole too."""
    for n in range(57):
        author = ("Anna K", "Ben L")[n % 2]
        day = START + timedelta(days=n)
        lang = "fr" if n % 3 else "en"
        small.seed(f"a{n:03}.txt", f"date: {day:%Y-%m-%d}\nauthor: {author}\n\nArticle {n}. {TEXTS[lang]} Zelensky\n")
    build(small.config, now=NOW)
    for feed, count in [("authors/anna-k.atom", 29), ("authors/ben-l.atom", 28), ("topics/ukraine/fr.atom", 38),
                        ("topics/ukraine/en.atom", 19)]:
        pages = assert_walk_is_complete(small, feed)
        assert len(published_ids(small, feed.removesuffix(".atom"))) == count
        assert pages and all(page.startswith(feed.removesuffix(".atom") + "/archive/") for page in pages)


def test_incremental_publishes_keep_the_chain_whole(small):
    """The daemon's way (sync some paths, publish the feeds they touched), checked after every step."""
    rng = random.Random(5005)
    config = load_config(small.root)
    live: dict[str, int] = {}
    with Index(config.index_path) as index:
        for step in range(120):
            action = rng.random()
            if action < 0.6 or len(live) < 5:
                n = step
                name = f"s{n:03}.txt"
                day = START + timedelta(days=n if rng.random() < 0.8 else rng.randrange(0, max(1, n)))
                small.seed(name, seed_text(n, day, rng.choice(["en", "fr"]), rng.choice(["", "Zelensky"])))
                live[name] = n
            elif action < 0.8:
                name = rng.choice(sorted(live))
                (small.seeds / name).unlink()
                del live[name]
            else:
                name = rng.choice(sorted(live))
                day = START + timedelta(days=rng.randrange(0, 200))
                small.seed(name, seed_text(live[name], day, "en", rng.choice(["", "Zelensky", "Edited."])))
            report = sync(config, index, NOW, paths=[name])
            publish(config, index, NOW, PublishPlan.of(report))
            if step % 10 == 9:
                for feed in ("all.atom", "languages/en.atom", "languages/fr.atom", "topics/ukraine.atom",
                             "topics/ukraine/en.atom", "topics/ukraine/fr.atom"):
                    if (small.feeds / feed).exists():
                        assert_walk_is_complete(small, feed)
    assert len(list((small.feeds / "all/archive").glob("*.atom"))) >= 3
    # A whole rebuild agrees with what the increments made: it writes no archive page.
    result = build(config, now=NOW)
    assert [p for p in result.written if "/archive/" in p] == []


def test_closed_archive_pages_are_served_with_a_long_cache_lifetime(small):
    seed_series(small, 35)
    build(small.config, now=NOW)
    server = FeedServer(small.feeds, "127.0.0.1", 0, max_age=60, archive_max_age=31536000)
    server.start()
    try:
        def cache_control(path):
            with urlopen(server.url + path, timeout=5) as response:
                return response.headers["Cache-Control"]

        assert cache_control("all/archive/1.atom") == "public, max-age=31536000"
        assert cache_control("all/archive/3.atom") == "public, max-age=60"  # the newest: still filling
        assert cache_control("all.atom") == "public, max-age=60"
    finally:
        server.stop()
