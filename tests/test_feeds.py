"""The feed registry and the kinds built through it: per author, per topic in one language."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone

import pytest
from lxml import etree

from conftest import TOML, Project, wait_for
from feedd import feeds as registry
from feedd.build import build
from feedd.config import FeedsConfig
from feedd.index import Index
from feedd.model import Document, Feed, Topic
from feedd.publish import PublishPlan, publish
from feedd.reconcile import sync

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
UKRAINE_FR = "Le président ukrainien Zelensky a parlé dimanche à Kiev devant la presse internationale."
UKRAINE_EN = "President Zelensky spoke in Kyiv on Sunday about the war in Ukraine and the coming winter."
COUNCIL_EN = "The council met again on Monday to discuss the budget of the city and the new bridge."


def article(day: str, body: str, author: str | None = None) -> str:
    """The header form with an ``author:`` line, or the canonical form without one."""
    if author is None:
        return f" date {day} {body}\n"
    return f"date: {day}\nauthor: {author}\n\n{body}\n"


def doc(lang="fr", topics=("ukraine",), author: str | None = "Anaïs Dupont") -> Document:
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc)
    return Document(path="a.txt", key="a", id="tag:x,2026:a", hash="h", title="T", published=moment, updated=moment,
                    lang=lang, topics=tuple(Topic(slug, slug.title()) for slug in topics), author=author,
                    link=None, summary="S", content_html="<p>S</p>")


# -- the registry alone ---------------------------------------------------------------

def test_a_document_is_in_one_feed_of_each_kind_that_applies():
    names = [feed.name for feed in registry.memberships(doc())]
    assert names == ["all", "topics/ukraine", "languages/fr", "authors/anais-dupont", "topics/ukraine/fr"]
    kinds = {feed.name: feed.kind for feed in registry.memberships(doc())}
    assert kinds["authors/anais-dupont"] == "author" and kinds["topics/ukraine/fr"] == "topic-language"


def test_no_author_no_author_feed_and_no_language_no_language_feeds():
    assert registry.member_names(doc(author=None)) == {"all", "topics/ukraine", "languages/fr", "topics/ukraine/fr"}
    assert registry.member_names(doc(lang="und")) == {"all", "topics/ukraine", "authors/anais-dupont"}
    assert registry.member_names(doc(author="!!!")) == {"all", "topics/ukraine", "languages/fr", "topics/ukraine/fr"}
    assert registry.member_names(None) == set()


def test_an_unknown_kind_is_an_error_never_everything():
    with pytest.raises(registry.UnknownFeedKind):
        registry.kind_of(Feed("podcasts/x", "podcast", "X"))
    with pytest.raises(registry.UnknownFeedKind):
        registry.page_path(Feed("podcasts/x", "podcast", "X"))


def test_switches_decide_what_is_published_in_the_registry_order():
    feeds = registry.memberships(doc())
    both_off = FeedsConfig(authors=False, topic_languages=False)
    assert [f.name for f in registry.published(feeds, both_off)] == ["all", "topics/ukraine", "languages/fr"]
    assert len(registry.published(reversed(feeds), FeedsConfig())) == 5


def test_paths_and_pages_come_from_the_registry():
    topic_fr = Feed("topics/ukraine/fr", "topic-language", "Ukraine in French", "fr")
    assert registry.page_path(registry.EVERYTHING) == "index.html"
    assert registry.page_path(topic_fr) == "topics/ukraine/fr.html"
    assert registry.feed_path(topic_fr, "rss") == "topics/ukraine/fr.rss"
    assert registry.archive_path(topic_fr, 3) == "topics/ukraine/fr/archive/3.atom"
    topic_en = Feed("topics/ukraine/en", "topic-language", "Ukraine in English", "en")
    other = Feed("topics/defence/fr", "topic-language", "Defence in French", "fr")
    assert registry.children([topic_fr, registry.EVERYTHING, other, topic_en]) == {
        "topics/ukraine": [topic_fr, topic_en], "topics/defence": [other]}


# -- a real build ---------------------------------------------------------------------

@pytest.fixture
def newsroom(tmp_path) -> Project:
    project = Project(tmp_path / "site")
    project.seed("a1.txt", article("2026-03-01", UKRAINE_FR, "Anaïs Dupont"))
    project.seed("a2.txt", article("2026-03-02", UKRAINE_EN, "Anaïs Dupont"))
    project.seed("b1.txt", article("2026-03-03", COUNCIL_EN, "Bob Stone"))
    project.seed("c1.txt", article("2026-03-04", UKRAINE_FR.replace("dimanche", "lundi")))
    return project


def titles(project: Project, feed: str) -> list[str]:
    return [entry.title for entry in project.feed(feed).entries]


def test_author_feeds_hold_exactly_their_authors_documents(newsroom):
    build(newsroom.config, now=NOW)
    anais = newsroom.feed("authors/anais-dupont.atom")
    assert [e.id.rsplit(":", 1)[1][:2] for e in anais.entries] == ["a2", "a1"]  # newest first
    assert anais.feed.title == "Test site: Anaïs Dupont"
    assert len(newsroom.feed("authors/bob-stone.rss").entries) == 1
    assert len(json.loads((newsroom.feeds / "authors/bob-stone.json").read_bytes())["items"]) == 1
    assert (newsroom.feeds / "authors/anais-dupont.html").is_file()
    assert sorted(p.name for p in (newsroom.feeds / "authors").glob("*.atom")) == ["anais-dupont.atom", "bob-stone.atom"]


def test_topic_feeds_in_one_language_hold_that_language_only(newsroom):
    build(newsroom.config, now=NOW)
    assert len(newsroom.feed("topics/ukraine.atom").entries) == 3
    french = newsroom.feed("topics/ukraine/fr.atom")
    assert len(french.entries) == 2 and french.feed.language == "fr"
    assert len(newsroom.feed("topics/ukraine/en.atom").entries) == 1
    assert not (newsroom.feeds / "topics/ukraine/de.atom").exists()  # no German document: no feed
    assert not (newsroom.feeds / "topics/defense/en.atom").exists()
    page = (newsroom.feeds / "topics/ukraine.html").read_text()
    assert 'href="../topics/ukraine/fr.html" hreflang="fr"' in page and 'href="../topics/ukraine/en.html"' in page
    fr_page = (newsroom.feeds / "topics/ukraine/fr.html").read_text()
    assert 'href="../../feedd.css"' in fr_page  # two folders down


def test_opml_lists_the_new_feeds_in_their_own_groups(newsroom):
    build(newsroom.config, now=NOW)
    for name in ("feeds.opml", "feeds-json.opml"):
        root = etree.fromstring((newsroom.feeds / name).read_bytes())
        groups = {o.get("text"): [c.get("xmlUrl") for c in o] for o in root.find("body") if len(o)}
        suffix = ".atom" if name == "feeds.opml" else ".json"
        assert groups["Authors"] == [f"http://example.test/news/authors/{a}{suffix}" for a in ("anais-dupont", "bob-stone")]
        assert f"http://example.test/news/topics/ukraine/fr{suffix}" in groups["Topics in one language"]


def test_pages_offer_their_own_feed_first_for_autodiscovery(newsroom):
    build(newsroom.config, now=NOW)
    for page, own in [("authors/anais-dupont.html", "authors/anais-dupont"), ("topics/ukraine/fr.html", "topics/ukraine/fr"),
                      ("topics/ukraine.html", "topics/ukraine"), ("languages/fr.html", "languages/fr")]:
        html = (newsroom.feeds / page).read_text()
        alternates = re.findall(r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="([^"]+)">', html)
        assert alternates[:3] == [("application/atom+xml", f"http://example.test/news/{own}.atom"),
                                  ("application/rss+xml", f"http://example.test/news/{own}.rss"),
                                  ("application/feed+json", f"http://example.test/news/{own}.json")], page


def test_switched_off_kinds_are_not_published(tmp_path):
    project = Project(tmp_path / "site", TOML + "\n[feeds]\nauthors = false\ntopic_languages = false\n")
    project.seed("a1.txt", article("2026-03-01", UKRAINE_FR, "Anaïs Dupont"))
    build(project.config, now=NOW)
    assert not (project.feeds / "authors").exists()
    assert not (project.feeds / "topics/ukraine").exists()
    opml = (project.feeds / "feeds.opml").read_text()
    assert "authors/" not in opml and "topics/ukraine/fr" not in opml
    # Switched on later: published without reading any document again.
    project.write_config(TOML)
    result = build(project.config, now=NOW)
    assert result.sync.summary().startswith("0 added, 0 updated")
    assert len(project.feed("authors/anais-dupont.atom").entries) == 1
    assert len(project.feed("topics/ukraine/fr.atom").entries) == 1


def test_edit_move_delete_update_exactly_the_feeds_a_document_is_in(newsroom):
    config = newsroom.config
    build(config, now=NOW)
    with Index(config.index_path) as index:
        def step(*paths):
            report = sync(config, index, NOW, paths=list(paths))
            written = publish(config, index, NOW, PublishPlan.of(report))
            feeds = {re.sub(r"(/archive/\d+)?\.(atom|rss|json|html)$", "", p) for p in written
                     if not p.startswith("articles/") and p not in ("index.html", "feeds.opml", "feeds-json.opml")}
            return report.feeds, feeds

        # An edit that changes the author: the old author's feeds and the new one's, nothing else.
        newsroom.seed("b1.txt", article("2026-03-03", COUNCIL_EN, "Anaïs Dupont"))
        due, written = step("b1.txt")
        assert due == {"all", "languages/en", "authors/bob-stone", "authors/anais-dupont"}
        assert written == due
        assert newsroom.feed("authors/bob-stone.atom").entries == []
        assert titles(newsroom, "authors/anais-dupont.atom")[0].startswith("The council met")
        # A move keeps the id in every feed of the document.
        before = [e.id for e in newsroom.feed("authors/anais-dupont.atom").entries]
        (newsroom.seeds / "a1.txt").rename(newsroom.seeds / "moved.txt")
        due, _ = step("a1.txt", "moved.txt")
        assert due == {"all", "languages/fr", "topics/ukraine", "topics/ukraine/fr", "authors/anais-dupont"}
        assert [e.id for e in newsroom.feed("authors/anais-dupont.atom").entries] == before
        # A deletion leaves every feed it was in.
        (newsroom.seeds / "moved.txt").unlink()
        due, written = step("moved.txt")
        assert due == {"all", "languages/fr", "topics/ukraine", "topics/ukraine/fr", "authors/anais-dupont"}
        assert written == due
        assert len(newsroom.feed("topics/ukraine/fr.atom").entries) == 1
        assert len(newsroom.feed("authors/anais-dupont.atom").entries) == 2
        assert set(index.members(Feed("topics/ukraine/fr", "topic-language", ""))) == {
            index.file_state("c1.txt").key}


def test_the_daemon_publishes_an_author_feed_when_a_file_arrives(tmp_path, start_daemon):
    project = Project(tmp_path / "site", TOML + "\n[daemon]\nsettle_seconds = 0.1\n")
    daemon = start_daemon(project.root)
    project.seed("new.txt", article("2026-03-05", UKRAINE_EN, "Carla Ruiz"))

    def served():
        if daemon.get("/authors/carla-ruiz.atom", method="HEAD")[0] != 200:
            return None
        return daemon.feed("/authors/carla-ruiz.atom").entries

    assert [e.title for e in wait_for(served, message="the author feed")] == [UKRAINE_EN]
    assert len(wait_for(lambda: daemon.get("/topics/ukraine/en.atom", method="HEAD")[0] == 200
                        and daemon.feed("/topics/ukraine/en.atom").entries, message="the topic's English feed")) == 1
    assert daemon.get("/authors/carla-ruiz.html")[0] == 200


def test_one_opml_file_per_facet_besides_the_everything_one(newsroom):
    build(newsroom.config, now=NOW)

    def urls(name):
        root = etree.fromstring((newsroom.feeds / name).read_bytes())
        return [o.get("xmlUrl").removeprefix("http://example.test/news/") for o in root.iter("outline")
                if o.get("xmlUrl")]

    assert urls("feeds-topics.opml") == ["topics/defense.atom", "topics/ukraine.atom"]
    assert urls("feeds-languages.opml") == ["languages/en.atom", "languages/fr.atom"]
    assert urls("feeds-authors.opml") == ["authors/anais-dupont.atom", "authors/bob-stone.atom"]
    assert urls("feeds-authors-json.opml") == ["authors/anais-dupont.json", "authors/bob-stone.json"]
    everything = urls("feeds.opml")
    assert "all.atom" in everything and set(urls("feeds-topics.opml")) < set(everything)
    page = (newsroom.feeds / "index.html").read_text()
    for name in ("feeds-topics.opml", "feeds-languages.opml", "feeds-authors.opml", "feeds.opml"):
        assert f'href="{name}"' in page
    # No author, no author OPML (and no stale one is promised on the page).
    lone = Project(newsroom.root.parent / "lone")
    lone.seed("a.txt", article("2026-03-01", UKRAINE_FR))
    build(lone.config, now=NOW)
    assert not (lone.feeds / "feeds-authors.opml").exists() and "feeds-authors" not in (lone.feeds / "index.html").read_text()


def test_an_article_page_offers_its_own_topic_first_and_everything_last(newsroom):
    """NetNewsWire and others subscribe to the first alternate link of a pasted page."""
    build(newsroom.config, now=NOW)
    for page in (newsroom.feeds / "articles").iterdir():
        html = page.read_text()
        feeds = [href.rsplit("/news/", 1)[1] for _, href in
                 re.findall(r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="([^"]+)">', html)]
        names = list(dict.fromkeys(name.rsplit(".", 1)[0] for name in feeds))
        assert feeds[:3] == [f"{names[0]}.atom", f"{names[0]}.rss", f"{names[0]}.json"]  # Atom, RSS, JSON Feed
        assert names[-1] == "all"
        kinds = [name.split("/")[0] for name in names]
        assert kinds == sorted(kinds, key=["topics", "authors", "languages", "all"].index), page.name


def test_language_names_come_from_the_machines_cache_once_known(tmp_path):
    """langcodes' name tables cost a process 18 MB: a second process must not load them."""
    import subprocess
    import sys

    script = ("import sys; from feedd.feeds import language_name; print(language_name('uk'));"
              " print(any(m.startswith('language_data.name') for m in sys.modules))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("CACHE_DIRECTORY", None)
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                           check=True).stdout.split("\n") for _ in range(2)]
    assert runs[0][:2] == ["Ukrainian (українська)", "True"]
    assert runs[1][:2] == ["Ukrainian (українська)", "False"]
