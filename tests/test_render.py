import dataclasses
import hashlib
import json
import re
from datetime import datetime, timezone

import pytest
from lxml import etree

from conftest import parse_feed
from feedd.config import SiteConfig
from feedd.model import Document, Feed, Topic
from feedd.render import render_article, render_atom, render_index, render_json, render_opml, render_rss

SITE = SiteConfig(title="Site", base_url="http://example.test/", author="Desk", tag_authority="example.test,2026")
ALL = Feed("all", "all", "Everything")
TOPIC = Feed("topics/ukraine", "topic", "Ukraine")


def doc(n: int, **changes) -> Document:
    values = dict(
        path=f"{n}.txt", key=f"doc-{n}", id=f"tag:example.test,2026:doc-{n}",
        title=f"Title {n}", published=datetime(2026, 3, n, 8, tzinfo=timezone.utc),
        updated=datetime(2026, 3, n, 9, tzinfo=timezone.utc), lang="fr",
        topics=(Topic("ukraine", "Ukraine"),), author=None, link=None,
        summary=f"Summary {n}", content_html=f"<p>Body {n}</p>",
    )
    values.update(changes)
    if "hash" not in changes:  # as in the pipeline: the text's fields follow from the bytes
        values["hash"] = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
    return Document(**values)


DOCS = [doc(3), doc(2, lang="en", author="Jane"), doc(1, link="https://example.org/orig")]


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_feeds_parse_cleanly_with_entries_in_the_given_order(render):
    parsed = parse_feed(render(ALL, DOCS, SITE))
    assert [e.id for e in parsed.entries] == [d.id for d in DOCS]
    assert [e.title for e in parsed.entries] == ["Title 3", "Title 2", "Title 1"]
    assert parsed.entries[0].link == "http://example.test/articles/doc-3.html"
    assert parsed.entries[0].tags[0].term in ("ukraine", "Ukraine")
    content = parsed.entries[0].content[0].value  # feedparser orders the attributes its own way
    assert "<p>Body 3</p>" in content and 'lang="fr"' in content and 'dir="ltr"' in content


def test_atom_follows_rfc_4287():
    root = etree.fromstring(render_atom(TOPIC, DOCS, SITE))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.findtext("a:id", namespaces=ns) == "tag:example.test,2026:feed/topics/ukraine"
    self_link = root.find("a:link[@rel='self']", ns)
    assert self_link.get("href") == "http://example.test/topics/ukraine.atom"
    assert root.find("a:author/a:name", ns).text == "Desk"
    # The newest entry's time, not the build's.
    assert root.findtext("a:updated", namespaces=ns) == "2026-03-03T09:00:00+00:00"
    for entry in root.findall("a:entry", ns):
        for tag in ("updated", "published"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                                entry.findtext(f"a:{tag}", namespaces=ns))
        alternate = entry.findall("a:link[@rel='alternate']", ns)
        assert len(alternate) == 1 and alternate[0].get("type") == "text/html"
    entries = root.findall("a:entry", ns)
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert [e.get(xml_lang) for e in entries] == ["fr", "en", "fr"]
    assert entries[2].find("a:link[@rel='related']", ns).get("href") == "https://example.org/orig"


def test_rss_follows_the_rss_2_spec():
    root = etree.fromstring(render_rss(TOPIC, DOCS, SITE))
    channel = root.find("channel")
    assert channel.findtext("link") == "http://example.test/topics/ukraine.html"  # its page, not the feed itself
    atom_self = channel.find("{http://www.w3.org/2005/Atom}link")
    assert atom_self.get("rel") == "self" and atom_self.get("href") == "http://example.test/topics/ukraine.rss"
    assert channel.findtext("lastBuildDate") == "Tue, 03 Mar 2026 09:00:00 +0000"
    assert channel.find("language") is None  # mixed languages
    for item in channel.findall("item"):
        assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                            item.findtext("pubDate"))
        assert item.find("guid").get("isPermaLink") == "false"
    assert channel.findall("item")[1].findtext("{http://purl.org/dc/elements/1.1/}creator") == "Jane"


def test_one_language_feed_says_so():
    fr = Feed("languages/fr", "language", "French", "fr")
    assert etree.fromstring(render_rss(fr, [DOCS[0]], SITE)).find("channel").findtext("language") == "fr"
    assert etree.fromstring(render_atom(fr, [DOCS[0]], SITE)).get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_an_empty_feed_is_valid(render):
    parsed = parse_feed(render(TOPIC, [], SITE))
    assert parsed.entries == []
    assert parsed.feed.title == "Site: Ukraine"


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_rendering_is_deterministic(render):
    assert render(ALL, DOCS, SITE) == render(ALL, DOCS, SITE)


HOSTILE = doc(
    4, title="<script>alert('t')</script> ]]> &bogus;", summary="</content><script>s()</script> &nbsp;",
    content_html="<p>&lt;script&gt;b()&lt;/script&gt;</p>",
    topics=(Topic("x-script", "<img src=x onerror=alert(1)>"),), author="<b>Eve</b>",
)


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_markup_in_a_document_stays_text_in_feeds(render):
    entry = parse_feed(render(ALL, [HOSTILE], SITE)).entries[0]
    assert entry.title == "<script>alert('t')</script> ]]> &bogus;"
    # Whatever a reader does with the HTML, it holds no live element.
    assert "<script" not in entry.summary and "&lt;/content&gt;" in entry.summary


def test_markup_in_a_document_stays_text_in_pages():
    feeds = {"topics/x-script": Feed("topics/x-script", "topic", "<img src=x onerror=alert(1)>")}
    for page in (render_article(HOSTILE, SITE, feeds), render_index(SITE, list(feeds.values()), [HOSTILE])):
        text = page.decode()
        assert "<script>" not in text and "<img" not in text and "<b>Eve" not in text
        assert "&lt;script&gt;" in text


def test_right_to_left_articles_say_so():
    page = render_article(doc(5, lang="ar", title="عنوان"), SITE, {}).decode()
    assert '<html lang="ar" dir="rtl">' in page


def test_entry_text_carries_its_language_and_direction_in_every_format():
    """Readers take direction from the markup (FreshRSS, NewsBlur, Liferea, Miniflux), NetNewsWire
    takes the language from the Atom content's xml:lang."""
    docs = [doc(5, lang="ar", summary="ملخص", content_html="<p>نص</p>"), doc(4, lang="und")]
    ns = {"a": "http://www.w3.org/2005/Atom"}
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    root = etree.fromstring(render_atom(ALL, docs, SITE))
    arabic, unknown = root.findall("a:entry", ns)
    assert arabic.find("a:content", ns).get(xml_lang) == arabic.find("a:summary", ns).get(xml_lang) == "ar"
    assert arabic.findtext("a:content", namespaces=ns) == '<div lang="ar" dir="rtl"><p>نص</p></div>'
    assert arabic.findtext("a:summary", namespaces=ns) == '<p lang="ar" dir="rtl">ملخص</p>'
    assert unknown.find("a:content", ns).get(xml_lang) is None
    assert unknown.findtext("a:content", namespaces=ns) == '<div dir="auto"><p>Body 4</p></div>'
    item = etree.fromstring(render_rss(ALL, docs, SITE)).find("channel/item")
    assert item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") == \
        '<div lang="ar" dir="rtl"><p>نص</p></div>'
    assert item.findtext("description") == '<p lang="ar" dir="rtl">ملخص</p>'
    items = json.loads(render_json(ALL, docs, SITE))["items"]
    assert items[0]["content_html"] == '<div lang="ar" dir="rtl"><p>نص</p></div>'
    assert json.loads(render_json(ALL, docs, SITE, full_content=False))["items"][0]["content_html"] == \
        '<p lang="ar" dir="rtl">ملخص</p>'


def test_opml_lists_every_feed():
    feeds = [ALL, TOPIC, Feed("languages/fr", "language", "French", "fr")]
    root = etree.fromstring(render_opml(SITE, feeds))
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert urls == ["http://example.test/all.atom", "http://example.test/topics/ukraine.atom",
                    "http://example.test/languages/fr.atom"]
    # JSON Feeds in a file of their own: a reader subscribes to every outline it imports.
    json_urls = [o.get("xmlUrl") for o in etree.fromstring(render_opml(SITE, feeds, "json")).iter("outline")
                 if o.get("xmlUrl")]
    assert json_urls == [url.replace(".atom", ".json") for url in urls]
    pages = [o.get("htmlUrl") for o in root.iter("outline") if o.get("htmlUrl")]
    assert pages == ["http://example.test/", "http://example.test/topics/ukraine.html",
                     "http://example.test/languages/fr.html"]


def test_pages_list_each_article_as_it_is_now():
    """A page's list items are kept between renders (render._article_item), never stale."""
    before = render_index(SITE, [ALL, TOPIC], DOCS).decode()
    edited = [doc(3, title="A new title for three", updated=datetime(2026, 3, 20, tzinfo=timezone.utc))] + DOCS[1:]
    after = render_index(SITE, [ALL, TOPIC], edited).decode()
    assert "Title 3" in before and "Title 3" not in after and "A new title for three" in after
    assert render_index(SITE, [ALL, TOPIC], DOCS).decode() == before


def test_index_page_has_autodiscovery_links():
    page = render_index(SITE, [ALL, TOPIC], DOCS).decode()
    assert '<link rel="alternate" type="application/atom+xml" title="Site: Ukraine (Atom)" href="http://example.test/topics/ukraine.atom">' in page
    assert 'href="articles/doc-3.html"' in page


@pytest.mark.parametrize("render", [render_atom, render_rss, render_json])
def test_entries_rendered_once_are_reused_but_never_stale(render):
    """Each entry's XML is kept between renders (feedd.render.RenderMemo): the bytes
    are those of a fresh render, and a changed document gets a new entry."""
    from feedd.render import RenderMemo

    feed = Feed("all", "all", "Everything")
    memo = RenderMemo()
    warm = render(feed, DOCS, SITE, memo=memo)
    assert len(memo.entries) == len(DOCS)
    assert render(feed, DOCS, SITE, memo=RenderMemo()) == warm == render(feed, DOCS, SITE, memo=memo)
    edited = [doc(3, title="A new title for three", updated=datetime(2026, 3, 20, tzinfo=timezone.utc))] + DOCS[1:]
    assert render(feed, edited, SITE, memo=memo) == render(feed, edited, SITE)
    if render is render_json:
        entries = [(item["title"], item["id"]) for item in json.loads(render(feed, edited, SITE, memo=memo))["items"]]
    else:
        entries = [(e.title, e.id) for e in parse_feed(render(feed, edited, SITE, memo=memo)).entries]
    assert entries[0][0] == "A new title for three"
    assert [id_ for _, id_ in entries] == [d.id for d in DOCS]
    assert render(feed, DOCS, SITE, memo=memo) == warm
    # Retagged, or found in another language, with the same bytes and dates: a new entry too.
    for changed in ({"topics": (Topic("peace", "Peace talks"),)}, {"topics": (Topic("ukraine", "Ukraine!"),)},
                    {"lang": "en"}):
        again = [dataclasses.replace(DOCS[0], **changed)] + DOCS[1:]
        assert render(feed, again, SITE, memo=memo) == render(feed, again, SITE) != warm


def test_json_items_joined_are_the_bytes_json_makes_of_the_whole_feed():
    from feedd.render import RenderMemo

    memo = RenderMemo()
    for docs in (DOCS, DOCS[:1], []):
        body = render_json(ALL, docs, SITE, memo=memo)
        assert body == (json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def test_pages_from_a_memo_are_the_pages_rendered_whole():
    """A page's frame (all but its list of articles) is rendered once and the articles put
    in its slots: the bytes are those of a page rendered without a memo, whatever the list."""
    from feedd.render import RenderMemo, render_feed_page

    memo = RenderMemo()
    lang = Feed("topics/ukraine/fr", "topic-language", "Ukraine in French", "fr")
    edited = [doc(4, title="Four & <five>")] + DOCS
    for docs in (DOCS, edited, DOCS[1:], [], DOCS):
        assert render_index(SITE, [ALL, TOPIC], docs, memo) == render_index(SITE, [ALL, TOPIC], docs)
        for feed, related in ((TOPIC, [lang]), (lang, [])):
            assert render_feed_page(SITE, feed, docs, 2, related, memo) == render_feed_page(SITE, feed, docs, 2, related)
    assert len(memo.frames) == 9  # three pages, three lengths of list


def test_feed_heads_from_a_memo_are_the_heads_feedgen_writes():
    """A feed's head is kept without its date, which goes in its place: every date, zone, language
    and archive link gives the bytes of a feed rendered without a memo."""
    from dataclasses import replace

    from feedd.render import RenderMemo, render_archive

    memo = RenderMemo()
    lang = Feed("topics/ukraine/fr", "topic-language", "Ukraine in French", "fr")
    english = [doc(5, lang="en", updated=datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))]
    for site in (SITE, replace(SITE, timezone="America/St_Johns")):
        for docs in (DOCS, DOCS[1:], english, english + DOCS, []):
            for feed in (ALL, TOPIC, lang):
                for archives in (0, 3):
                    assert (render_atom(feed, docs, site, archives=archives, memo=memo)
                            == render_atom(feed, docs, site, archives=archives))
                assert render_rss(feed, docs, site, memo=memo) == render_rss(feed, docs, site)
                assert render_archive(feed, 2, 3, docs, site, memo=memo) == render_archive(feed, 2, 3, docs, site)
            emptied = datetime(2026, 5, 1, 8, tzinfo=timezone.utc)
            assert (render_atom(ALL, [], site, memo=memo, emptied=emptied)
                    == render_atom(ALL, [], site, emptied=emptied))
    assert len(memo.heads) < 100  # one per feed, format and head, not per date


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_entries_rendered_together_are_the_bytes_of_entries_rendered_alone(fmt):
    from feedd import render as module

    together = module._render_entries(DOCS, SITE, fmt, True)
    assert together == [module._render_entries([d], SITE, fmt, True)[0] for d in DOCS]
    assert len(set(together)) == len(DOCS)


def test_a_widened_entry_memo_shrinks_back_afterwards():
    from feedd import render as module

    memo = module.EntryMemo(size=2)
    with memo.widened(10**9):
        memo.get_many(DOCS, SITE, "atom", True)
        assert len(memo) == len(DOCS) > 2
    assert len(memo) == 2
    # The two kept are the most recently used: asking for them renders nothing.
    newest = DOCS[-2:]
    assert not memo.missing(newest, SITE, "atom", True)


def test_json_feed_follows_the_1_1_spec():
    """JSON Feed 1.1's required and recommended fields, and the same ids and dates as Atom."""
    body = json.loads(render_json(ALL, DOCS, SITE))
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert body["title"] == "Site" and body["home_page_url"] == "http://example.test/"
    assert body["feed_url"] == "http://example.test/all.json"
    assert body["authors"] == [{"name": "Desk"}]
    atom = parse_feed(render_atom(ALL, DOCS, SITE))
    assert [item["id"] for item in body["items"]] == [e.id for e in atom.entries]
    for item, doc_ in zip(body["items"], DOCS):
        assert isinstance(item["id"], str) and ("content_html" in item or "content_text" in item)
        assert item["url"] == f"http://example.test/articles/{doc_.key}.html"
        assert datetime.fromisoformat(item["date_published"]) == doc_.published
        assert datetime.fromisoformat(item["date_modified"]) == doc_.updated
        assert item["tags"] == ["Ukraine"] and item["language"] == doc_.lang
        assert item["summary"] == doc_.summary
    assert body["items"][1]["authors"] == [{"name": "Jane"}]
    assert body["items"][2]["external_url"] == "https://example.org/orig"
    # Without full text, the item still has the content JSON Feed requires.
    assert json.loads(render_json(ALL, DOCS, SITE, full_content=False))["items"][0]["content_html"] == '<p lang="fr" dir="ltr">Summary 3</p>'
    # One-language feeds say so; an empty feed is still a valid document.
    assert json.loads(render_json(Feed("languages/fr", "language", "French", "fr"), DOCS[:1], SITE))["language"] == "fr"
    assert json.loads(render_json(ALL, [], SITE))["items"] == []


def test_an_article_page_says_which_id_and_bytes_it_shows():
    """What a rebuild without the index reads back (feedd/recover.py), whatever the id holds."""
    from feedd.recover import page_identity

    shown = doc(6, id='urn:x:a&b"c<d>', updated=datetime(2026, 3, 6, 9, 0, 0, 123456, tzinfo=timezone.utc))
    found = page_identity("doc-6", render_article(shown, SITE, {}).decode())
    assert (found.key, found.id, found.hash) == ("doc-6", shown.id, shown.hash)
    assert (found.published, found.updated) == (shown.published, shown.updated)
    assert page_identity("old", "<!doctype html><title>an older page</title>") is None
