"""Turn documents into bytes (pure): RSS and Atom with feedgen, pages with Jinja2.

Nothing here reads a clock or touches the disk: the same documents give the
same bytes, so an unchanged feed is never rewritten and ETags stay valid.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache

from cachetools import LRUCache
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import formatRFC2822
from lru import LRU
from lxml import etree

from . import __version__, icons
from .config import SiteConfig
from .feeds import (EVERYTHING, GONE_MAP, KINDS, MOVED_MAP, FeedKind, archive_path, description, feed_path, home,
                    kind_of, memberships, page_path, title)
from .model import EPOCH, UNDETERMINED, Document, Feed

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ps", "sd", "ug", "ur", "yi"})
FORMATS = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


# -- URLs and ids (paths are the registry's: feedd.feeds) ---------------------------

def feed_url(site: SiteConfig, feed: Feed, fmt: str) -> str:
    return site.base_url + feed_path(feed, fmt)


def feed_page_url(site: SiteConfig, feed: Feed) -> str:
    return site.base_url if kind_of(feed).home else site.base_url + page_path(feed)


def article_path(key: str) -> str:
    return f"articles/{key}.html"


def article_url(site: SiteConfig, doc: Document) -> str:
    return site.base_url + article_path(doc.key)


def feed_id(site: SiteConfig, feed: Feed) -> str:
    return f"tag:{site.tag_authority}:feed/{feed.name}"


def feed_title(site: SiteConfig, feed: Feed) -> str:
    return title(site.title, feed)


def text_direction(lang: str) -> str:
    if lang == UNDETERMINED:
        return "auto"  # the browser or reader decides from the first strong letter
    return "rtl" if lang.split("-", 1)[0] in RTL_LANGUAGES else "ltr"


def directed(fragment: str, lang: str, element: str = "div") -> str:
    """An entry's HTML in an element that carries its language and direction: readers set
    direction from the markup, not from ``xml:lang`` (FreshRSS, NewsBlur, Liferea, Miniflux)."""
    said = "" if lang == UNDETERMINED else f' lang="{html.escape(lang)}"'
    return f'<{element}{said} dir="{text_direction(lang)}">{fragment}</{element}>'


def feed_language(feed: Feed, docs: Sequence[Document]) -> str | None:
    """A feed's one language: a language feed's, or its entries' if they agree."""
    if feed.lang:
        return feed.lang
    langs = {doc.lang for doc in docs}
    if len(langs) == 1 and UNDETERMINED not in langs:
        return langs.pop()
    return None


def feed_updated(docs: Sequence[Document], emptied: datetime | None = None) -> datetime:
    """The newest entry's time, never the build's, so that rebuilding changes no byte; a feed
    without entries changed when it was ``emptied`` (1970 would be an implausible date)."""
    return max((doc.updated for doc in docs), default=emptied or EPOCH)


# -- feeds ----------------------------------------------------------------------

class _AtomEntryFixes(BaseEntryExtension):
    """What feedgen 1.0 cannot say in an Atom entry: ``xml:lang`` (on the entry and its text) and
    link attributes."""

    def __init__(self):
        self.lang: str | None = None
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry):
        if self.lang and self.lang != UNDETERMINED:
            entry.set(XML_LANG, self.lang)
            for text in (entry.find("summary"), entry.find("content")):  # NetNewsWire reads it there
                if text is not None:
                    text.set(XML_LANG, self.lang)
        # feedgen drops rel/type of entry links (a shadowed variable); write them here.
        # feedgen builds its Atom elements without a namespace (the root's
        # default one applies), so these are plain "link" too.
        for old in entry.findall("link"):
            entry.remove(old)
        for attributes in self.links:
            etree.SubElement(entry, "link", attributes)
        return entry


class _FeedFixes(BaseExtension):
    """Feed-level links feedgen cannot write: WebSub hubs in RSS, RFC 5005's ``fh:archive``."""

    def __init__(self):
        self.hubs: tuple[str, ...] = ()
        self.archive = False

    def extend_ns(self):
        return {"fh": HISTORY_NS} if self.archive else {}

    def extend_atom(self, feed):
        if self.archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        return feed

    def extend_rss(self, feed):
        channel = feed.find("channel")
        for hub in self.hubs:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=hub, rel="hub")
        return feed


def _generator(feed: Feed | None, site: SiteConfig, fmt: str, lang: str | None, updated: datetime,
               hubs: Sequence[str] = (), self_url: str | None = None,
               history: Sequence[tuple[str, str]] = ()) -> FeedGenerator:
    """A feed without entries (``feed`` None: a scratch feed to render entries in).
    ``history``: RFC 5005 (rel, url) links, which make an archive page."""
    fg = FeedGenerator()
    if fmt == "atom":
        fg.register_extension("feedd", _FeedFixes, _AtomEntryFixes, atom=True, rss=False)
        fg.feedd.archive = any(rel == "current" for rel, _ in history)
    else:
        fg.register_extension("feedd", _FeedFixes, atom=False, rss=True)
        fg.feedd.hubs = tuple(hubs)
        fg.load_extension("dc", atom=False, rss=True)
    feed = feed or Feed("entry", "all", "")
    fg.id(feed_id(site, feed))
    fg.title(feed_title(site, feed))
    subtitle = description(site.description, feed)
    # Atom's subtitle is text; RSS readers render a description as HTML.
    fg.description(subtitle if fmt == "atom" else html.escape(subtitle, quote=False))
    fg.author({"name": site.author})
    fg.generator("feedd", __version__)
    # RSS takes the channel <link> from the last link() call: self first, the site last.
    fg.link(href=self_url or feed_url(site, feed, fmt), rel="self", type=FORMATS[fmt])
    if fmt == "atom":
        for hub in hubs:
            fg.link(href=hub, rel="hub")
        for rel, url in history:
            fg.link(href=url, rel=rel, type=FORMATS["atom"])
    fg.link(href=feed_page_url(site, feed), rel="alternate", type="text/html")
    if fmt == "atom":
        fg.icon(site.base_url + icons.ICON)
        fg.logo(site.base_url + icons.LOGO)
    else:  # RSS 2.0: the image's title and link are the channel's, at most 144 pixels wide
        size = str(icons.RSS_IMAGE_SIZE)
        fg.image(site.base_url + icons.RSS_IMAGE, feed_title(site, feed), feed_page_url(site, feed), size, size)
    if lang:
        fg.language(lang)
    fg.updated(updated)
    return fg


# A date no feed shows: a memoised head carries it where its date goes.
_HEAD_DATE = datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=timezone.utc)


def _head(feed: Feed, docs: Sequence[Document], site: SiteConfig, fmt: str, memo: RenderMemo | None,
          hubs: Sequence[str] = (), self_url: str | None = None, history: Sequence[tuple[str, str]] = (),
          emptied: datetime | None = None) -> bytes:
    """feedgen's feed without entries ("atom" or "rss"). Every change moves a feed's date and
    nothing else in its head, so the head is made once per what else it says, and the date
    is written in its place as feedgen writes it."""
    lang = feed_language(feed, docs)
    updated = feed_updated(docs, emptied).astimezone(site.zone)

    def made(moment: datetime) -> bytes:
        fg = _generator(feed, site, fmt, lang, moment, hubs, self_url, history)
        return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)

    if memo is None or not memo.heads.size:
        return made(updated)
    key = (_site_token(site), fmt, feed, tuple(hubs), self_url, tuple(history), lang)
    head = memo.heads.recall(key)
    if head is None:
        head = memo.heads.remember(key, made(_HEAD_DATE))
    placeholder = _feed_date(fmt, _HEAD_DATE)
    if head.count(placeholder) != 1:  # a title that spells the placeholder out: no memo for this head
        return made(updated)
    return head.replace(placeholder, _feed_date(fmt, updated))


def _feed_date(fmt: str, moment: datetime) -> bytes:
    """A feed's date as feedgen writes it: RFC 3339 in Atom, RFC 822 in RSS."""
    return (moment.isoformat() if fmt == "atom" else formatRFC2822(moment)).encode("ascii")


def _add_entries(fg: FeedGenerator, docs: Sequence[Document], site: SiteConfig, fmt: str, full: bool) -> None:
    for doc in docs:  # newest first, as given; appended so the order is ours
        fe = fg.add_entry(order="append")
        url = article_url(site, doc)
        fe.id(doc.id)
        fe.guid(doc.id, permalink=False)
        fe.title(doc.title)
        fe.published(doc.published.astimezone(site.zone))
        fe.updated(doc.updated.astimezone(site.zone))
        if doc.author:
            fe.author({"name": doc.author})
        for topic in doc.topics:
            fe.category(term=topic.slug, label=topic.title)
        # The summary is text; as escaped HTML it stays text in every reader.
        fe.summary(directed(html.escape(doc.summary, quote=False), doc.lang, "p"), type="html")
        if full:
            fe.content(directed(doc.content_html, doc.lang), type="html")
        if fmt == "atom":
            fe.link(href=url, rel="alternate")
            fe.feedd.lang = doc.lang
            fe.feedd.links = [{"rel": "alternate", "type": "text/html", "href": url}]
            if doc.link:
                fe.feedd.links.append({"rel": "related", "href": doc.link})
        else:
            fe.link(href=url)
            if doc.lang != UNDETERMINED:
                fe.dc.dc_language(doc.lang)
            if doc.author:
                fe.dc.dc_creator(doc.author)


def render_atom(feed: Feed, docs: Sequence[Document], site: SiteConfig, full_content: bool = True,
                hubs: Sequence[str] = (), archives: int = 0, memo: RenderMemo | None = None,
                emptied: datetime | None = None) -> bytes:
    """The current Atom document; ``archives``: its newest RFC 5005 archive page (0: none)."""
    history = [("prev-archive", site.base_url + archive_path(feed, archives))] if archives else []
    head = _head(feed, docs, site, "atom", memo, hubs, history=history, emptied=emptied)
    return _atom(head, docs, site, full_content, memo)


def render_archive(feed: Feed, page: int, last: int, docs: Sequence[Document], site: SiteConfig,
                   full_content: bool = True, memo: RenderMemo | None = None, emptied: datetime | None = None) -> bytes:
    """RFC 5005 archive page ``page`` of ``last``: ``fh:archive``, linked to the current feed and its neighbours."""
    history = [("current", feed_url(site, feed, "atom"))]
    if page > 1:
        history.append(("prev-archive", site.base_url + archive_path(feed, page - 1)))
    if page < last:
        history.append(("next-archive", site.base_url + archive_path(feed, page + 1)))
    head = _head(feed, docs, site, "atom", memo, self_url=site.base_url + archive_path(feed, page), history=history,
                 emptied=emptied)
    return _atom(head, docs, site, full_content, memo)


def _atom(head: bytes, docs: Sequence[Document], site: SiteConfig, full: bool, memo: RenderMemo | None) -> bytes:
    return _splice(head, b"</feed>", _entries(memo).get_many(docs, site, "atom", full))


def render_rss(feed: Feed, docs: Sequence[Document], site: SiteConfig, full_content: bool = True,
               hubs: Sequence[str] = (), memo: RenderMemo | None = None, emptied: datetime | None = None) -> bytes:
    head = _head(feed, docs, site, "rss", memo, hubs, emptied=emptied)
    return _splice(head, b"</channel>", _entries(memo).get_many(docs, site, "rss", full_content))


def _splice(head: bytes, closing: bytes, entries: list[bytes]) -> bytes:
    """feedgen's feed without entries, and the entries feedgen rendered, before its closing tag."""
    at = head.rindex(closing)
    return head[:at] + b"".join(b"  " + entry + b"\n" for entry in entries) + head[at:]


class EntryMemo:
    """Rendered pieces (feed entries, list items), each made once and reused: a memo of a pure
    function, so it never changes what is published, only how often feedgen runs.

    A new document changes the five or so feeds it appears in, whose other
    entries are the same as last time: rendering only the new one is what
    keeps a change's work small at 100,000 documents (bench/scale.py).
    Bounded by count (lru-dict's LRU, in C: a drop looks pieces up ~3,000
    times), and keyed by what a piece is made of (:func:`_entry_key`), so it
    never goes stale. :meth:`widened` lets a big publish keep far more for a
    while, bounded by bytes (cachetools' LRU, which can weigh its values): a
    document's entry then serves its archive page in every feed it belongs to.
    """

    def __init__(self, size: int = 3072):  # a drop at 100k: ~1,700 entries (8 feeds, 3 formats, 5 open archive pages)
        self.size = size
        self._cache: LRU = LRU(max(size, 1))  # 0: its users render without it (lru-dict keeps one at least)
        self._wide: LRUCache | None = None  # while widened: new pieces, bounded by bytes

    def __len__(self) -> int:
        return len(self._cache) + len(self._wide or ())

    def get_many(self, docs: Sequence[Document], site: SiteConfig, fmt: str, full: bool) -> list[bytes]:
        token = _site_token(site)
        keys = [_entry_key(doc, token, fmt, full) for doc in docs]
        found = [self.recall(key) for key in keys]
        missing = [doc for doc, entry in zip(docs, found) if entry is None]
        fresh = iter(_render_entries(missing, site, fmt, full) if missing else ())
        return [entry if entry is not None else self.remember(key, next(fresh))
                for key, entry in zip(keys, found)]

    def missing(self, docs: Sequence[Document], site: SiteConfig, fmt: str, full: bool) -> list[Document]:
        """The documents whose entries are not kept (only they need loading with their text)."""
        token = _site_token(site)
        return [doc for doc in docs if self.recall(_entry_key(doc, token, fmt, full)) is None]

    def recall(self, key: tuple):
        found = self._cache.get(key)
        if found is None and self._wide is not None:
            found = self._wide.get(key)
        return found

    def remember(self, key: tuple, value):
        try:
            (self._wide if self._wide is not None else self._cache)[key] = value
        except ValueError:  # larger than the whole widened memo (by bytes): rendered, not kept
            pass
        return value

    @contextmanager
    def widened(self, limit_bytes: int | None) -> Iterator[None]:
        """Keep up to ``limit_bytes`` more of pieces for a while (None: as usual); afterwards
        the most recently used of them stay, as many as the memo usually holds."""
        if limit_bytes is None or self._wide is not None:
            yield
            return
        self._wide = LRUCache(maxsize=limit_bytes, getsizeof=len)
        try:
            yield
        finally:
            wide, self._wide = self._wide, None
            self._move(wide, self._cache)

    @staticmethod
    def _move(source: LRUCache, target: LRU) -> None:
        """Least recently used first, so that ``target`` keeps the order (and evicts the oldest)."""
        while source:
            key, value = source.popitem()
            target[key] = value


class RenderMemo:
    """What the renderers may reuse between calls, owned by whoever runs the pipeline
    (a build, the daemon) and handed to each render; without one, nothing is reused."""

    def __init__(self, entries: int = 3072, items: int = 1024, frames: int = 256, heads: int = 512):
        self.entries = EntryMemo(entries)  # feed entries, in each format
        self.items = EntryMemo(items)  # articles' lines in pages' lists
        self.frames = EntryMemo(frames)  # pages around their lists of articles (0: pages rendered whole)
        self.heads = EntryMemo(heads)  # feeds without their entries, their date left out

    @contextmanager
    def widened(self, limit_bytes: int | None) -> Iterator[None]:
        """Entries and list items, up to ``limit_bytes`` more of each for a while (None: as usual):
        a whole publish lists each document in several feeds, their pages and archive pages."""
        with self.entries.widened(limit_bytes), self.items.widened(limit_bytes):
            yield


def _entries(memo: RenderMemo | None) -> EntryMemo:
    return memo.entries if memo is not None else EntryMemo()


def _entry_key(doc: Document, site_token: str, fmt: str, full: bool) -> tuple:
    """Everything an entry is made of, compactly (:attr:`Document.made_of`): keeping whole
    documents as keys would hold their text alive and hash it on every look-up. Only strings,
    which keep their hash: an LRU hashes its key several times per look-up."""
    return (site_token, fmt, full, doc.made_of)


@lru_cache(maxsize=8)
def _site_token(site: SiteConfig) -> str:
    """What a site's settings make of every entry, as one string (asked once per list of entries)."""
    return repr(site)


def _render_entries(docs: Sequence[Document], site: SiteConfig, fmt: str, full: bool) -> list[bytes]:
    """Entries rendered by feedgen in one feed, then cut out of it one by one (JSON Feed's items
    by json, each alone: :func:`render_json` joins them as json would)."""
    if fmt == "json":
        return [_compact_json(_json_item(doc, site, full)) for doc in docs]
    fg = _generator(None, site, fmt, None, EPOCH)  # only its entries are kept
    _add_entries(fg, docs, site, fmt, full)
    root = etree.fromstring(fg.atom_str() if fmt == "atom" else fg.rss_str())
    elements = root.findall(f"{{{ATOM_NS}}}entry") if fmt == "atom" else root.findall("channel/item")
    return [etree.tostring(e, encoding="utf-8", with_tail=False, pretty_print=True).rstrip(b"\n") for e in elements]


def render_json(feed: Feed, docs: Sequence[Document], site: SiteConfig, full_content: bool = True,
                hubs: Sequence[str] = (), memo: RenderMemo | None = None) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the same entries, ids and dates as the Atom feed."""
    body: dict = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(site, feed),
        "home_page_url": feed_page_url(site, feed),
        "feed_url": feed_url(site, feed, "json"),
        "description": description(site.description, feed),
        "authors": [{"name": site.author}],
        "icon": site.base_url + icons.ICON,
        "favicon": site.base_url + icons.FAVICON_PNG,
    }
    lang = feed_language(feed, docs)
    if lang:
        body["language"] = lang
    if hubs:
        body["hubs"] = [{"type": "WebSub", "url": hub} for hub in hubs]
    body["items"] = []  # the last member: its items go between the closing brackets
    head = _compact_json(body)
    items = _entries(memo).get_many(docs, site, "json", full_content)
    return head[:-2] + b",".join(items) + b"]}\n"


def _compact_json(value: dict) -> bytes:
    """Compact: json's C encoder only runs without indent (a 50-entry feed: ~4 ms instead of ~20 ms)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_item(doc: Document, site: SiteConfig, full: bool) -> dict:
    item: dict = {
        "id": doc.id,
        "url": article_url(site, doc),
        "title": doc.title,
        # JSON Feed requires content_html or content_text; the summary stands in when full text is off.
        "content_html": directed(doc.content_html, doc.lang) if full else
                        directed(html.escape(doc.summary, quote=False), doc.lang, "p"),
        "summary": doc.summary,
        "date_published": doc.published.astimezone(site.zone).isoformat(),
        "date_modified": doc.updated.astimezone(site.zone).isoformat(),
        "tags": [topic.title for topic in doc.topics],
    }
    if doc.link:
        item["external_url"] = doc.link
    if doc.author:
        item["authors"] = [{"name": doc.author}]
    if doc.lang != UNDETERMINED:
        item["language"] = doc.lang
    return item


def render_feed(feed: Feed, docs: Sequence[Document], site: SiteConfig, full_content: bool = True,
                hubs: Sequence[str] = (), archives: int = 0, memo: RenderMemo | None = None,
                emptied: datetime | None = None) -> dict[str, bytes]:
    """Every format of one feed, by the path it is published at (``emptied``: see :func:`feed_updated`)."""
    return {
        feed_path(feed, "atom"): render_atom(feed, docs, site, full_content, hubs, archives, memo, emptied),
        feed_path(feed, "rss"): render_rss(feed, docs, site, full_content, hubs, memo, emptied),
        feed_path(feed, "json"): render_json(feed, docs, site, full_content, hubs, memo),
    }


# -- pages ----------------------------------------------------------------------

@lru_cache(maxsize=1)
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("feedd", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship with the package: no stat of each one at every page
    )
    env.filters["direction"] = text_direction
    env.filters["day"] = lambda moment, zone: moment.astimezone(zone).strftime("%Y-%m-%d")
    env.filters["rfc3339"] = lambda moment, zone: moment.astimezone(zone).isoformat()
    env.globals.update(icons=icons, feed_path=feed_path, feed_title=feed_title, article_path=article_path,
                       page_path=page_path, facets=facets, alternates=alternates, version=__version__)
    return env


def alternates(site: SiteConfig, feeds: Sequence[Feed]):
    """A page's autodiscovery links (alternates.html): half an article page's bytes, and the
    same on every page of the same feeds, so rendered once for each list of them. A memo of the
    process, not of :class:`RenderMemo`: article pages are rendered in workers, which have none."""
    from markupsafe import Markup

    return Markup(_alternates(site, tuple(feeds)))


@lru_cache(maxsize=1024)
def _alternates(site: SiteConfig, feeds: tuple[Feed, ...]) -> str:
    return _templates().get_template("alternates.html").render(site=site, feeds=feeds)


def warm_up() -> None:
    """Compile the page templates ahead of the first change (a daemon's start-up)."""
    env = _templates()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


def facets(doc: Document, placement: str, published: dict[str, Feed] | None = None) -> list[Feed]:
    """The feeds an article's page and list item link to at ``placement`` ("meta", "tags", "byline");
    with ``published`` (feeds by name), only those, as registered."""
    return [published[feed.name] if published is not None else feed for feed in memberships(doc)
            if kind_of(feed).on_article == placement and (published is None or feed.name in published)]


def _item_renderer(site: SiteConfig, memo: RenderMemo | None) -> Callable[[Document, str], object]:
    """An article's line in a page's list (item.html), rendered once for every page that lists it."""
    from markupsafe import Markup

    items = memo.items if memo is not None else EntryMemo()
    template = _templates().get_template("item.html")
    token = _site_token(site)

    def item(doc: Document, root: str):
        key = (*_entry_key(doc, token, "item", False), root)
        found = items.recall(key)
        if found is None:
            found = items.remember(key, template.render(site=site, doc=doc, root=root))
        return Markup(found)  # autoescaped by its own template

    return item


def render_article(doc: Document, site: SiteConfig, feeds: dict[str, Feed]) -> bytes:
    """The article page each entry links to; its HTML body is already escaped.

    ``feeds``: the published feeds by name; the page links those the document is in.
    """
    from markupsafe import Markup

    mine = [feeds[feed.name] for feed in memberships(doc) if feed.name in feeds]
    page = _templates().get_template("article.html").render(
        site=site, doc=doc, content=Markup(doc.content_html), root="../",
        tags=facets(doc, "tags", feeds),
        byline=next(iter(facets(doc, "byline", feeds)), None),
        feeds=sorted((feed for feed in mine if kind_of(feed).article_rank is not None),
                     key=lambda feed: kind_of(feed).article_rank),
    )
    return page.encode("utf-8")


def render_index(site: SiteConfig, feeds: Sequence[Feed], latest: Sequence[Document],
                 memo: RenderMemo | None = None) -> bytes:
    """The front page: everything's newest articles and a way to every feed."""
    # A kind behind a switch gets its section once it has a feed: no empty "Authors" on a site without any.
    sections = [(kind, listed) for kind, listed in _by_kind(feeds) if kind.section and (listed or kind.switch is None)]
    bulk = [(facet, opml_path(facet, "atom"), opml_path(facet, "json")) for facet in opml_facets(feeds)]
    return _list_page("index.html", site, latest, memo, feeds=feeds, everything=home(feeds), sections=sections,
                      root="", bulk=bulk, every_opml=(opml_path(None, "atom"), opml_path(None, "json")))


def render_feed_page(site: SiteConfig, feed: Feed, latest: Sequence[Document], archives: int = 0,
                     related: Sequence[Feed] = (), memo: RenderMemo | None = None) -> bytes:
    """A feed's own page (a topic's, a language's…): what its feed holds, and how to subscribe to it.

    Its own feed comes first among the autodiscovery links: readers take the first (NetNewsWire
    scores by order), and someone pasting a topic's page wants the topic, not everything.

    ``related``: feeds listed on the page besides its own (a topic's feeds in one language).
    """
    depth = page_path(feed).count("/")
    return _list_page("feed.html", site, latest, memo, feed=feed, kind=kind_of(feed), feeds=[feed, EVERYTHING],
                      heading=feed.title, archives=archives,
                      related=[(kind, listed) for kind, listed in _by_kind(related) if listed], root="../" * depth)


class _Slot:
    """Stands for the n-th article of a page's frame: a template hands it to ``article_item``
    and reads nothing of it (anything else it reads is undefined, and StrictUndefined says so)."""

    __slots__ = ("n",)

    def __init__(self, n: int):
        self.n = n


_SLOT = "\x00feedd-article-{}\x00"  # NULs mark slots: a page whose own text holds one is rendered whole


def _list_page(name: str, site: SiteConfig, latest: Sequence[Document], memo: RenderMemo | None,
               **context) -> bytes:
    """A page listing ``latest`` (item.html each): with a memo, the rest of the page (its frame)
    is rendered once for what it is made of and the memoised items are put in its slots, so a
    drop re-renders no page around the one new article."""
    template = _templates().get_template(name)
    item = _item_renderer(site, memo)
    if memo is None or not latest or not memo.frames.size:
        return template.render(site=site, latest=latest, article_item=item, **context).encode("utf-8")
    key = (name, _site_token(site), len(latest), repr(context))
    frame = memo.frames.recall(key) or _frame(template, site, len(latest), context)
    if frame is None:  # the page's own text holds a NUL: no slots to trust
        return template.render(site=site, latest=latest, article_item=item, **context).encode("utf-8")
    memo.frames.remember(key, frame)
    parts, roots = frame
    pieces = [parts[0]]
    for doc, root, part in zip(latest, roots, parts[1:]):
        pieces += (item(doc, root), part)
    return "".join(pieces).encode("utf-8")


def _frame(template, site: SiteConfig, size: int, context: dict) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The page around ``size`` articles: its text between their slots, and the root each was given;
    None when the slots cannot be told apart from the page's text."""
    from markupsafe import Markup

    roots: dict[int, str] = {}

    def slot(doc: _Slot, root: str):
        roots[doc.n] = root
        return Markup(_SLOT.format(doc.n))

    text = template.render(site=site, latest=[_Slot(n) for n in range(size)], article_item=slot, **context)
    parts = text.split("\x00")
    # "before", "feedd-article-0", "between", "feedd-article-1", …, "after": each slot once, in order
    if parts[1::2] != [_SLOT.format(n).strip("\x00") for n in range(size)] or len(roots) != size:
        return None
    return tuple(parts[0::2]), tuple(roots[n] for n in range(size))


def _by_kind(feeds: Sequence[Feed]) -> list[tuple[FeedKind, list[Feed]]]:
    return [(kind, [feed for feed in feeds if feed.kind == kind.name]) for kind in KINDS]


OPML_FORMATS = ("atom", "json")


def render_routes(gone: Sequence[str], moved: dict[str, str]) -> dict[str, bytes]:
    """The nginx map files of retired (410) and renamed (301) feeds' paths."""
    return {
        GONE_MAP: "".join(f"/{path} 1;\n" for path in sorted(gone)).encode(),
        MOVED_MAP: "".join(f"/{path} /{moved[path]};\n" for path in sorted(moved)).encode(),
    }


def opml_path(facet: FeedKind | None, fmt: str) -> str:
    """``feeds.opml`` (every feed), ``feeds-topics.opml`` (one facet); ``-json`` for JSON Feeds."""
    return "feeds" + (f"-{facet.section}" if facet else "") + ("-json" if fmt == "json" else "") + ".opml"


def opml_facets(feeds: Sequence[Feed]) -> list[FeedKind]:
    """The kinds listed on the index page that have feeds: each gets OPML files of its own."""
    return [kind for kind, listed in _by_kind(feeds) if kind.section and listed]


def render_opml_files(site: SiteConfig, feeds: Sequence[Feed]) -> dict[str, bytes]:
    """Every OPML file, by path: every feed, and one facet at a time (readers do not merge an article's
    copies across feeds, so subscribing to every feed brings each article once per feed it is in)."""
    files = {opml_path(None, fmt): render_opml(site, feeds, fmt) for fmt in OPML_FORMATS}
    for facet in opml_facets(feeds):
        members = [feed for feed in feeds if feed.kind == facet.name]
        for fmt in OPML_FORMATS:
            files[opml_path(facet, fmt)] = render_opml(site, members, fmt, f"{site.title}: {facet.plural}")
    return files


def render_opml(site: SiteConfig, feeds: Sequence[Feed], fmt: str = "atom", name: str | None = None) -> bytes:
    """OPML 2.0: these feeds in one format, grouped by kind, for one-click subscription.

    One file per format: a reader imports every outline, so listing a feed's
    Atom and JSON forms together would subscribe everyone twice.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    name = name or site.title
    etree.SubElement(head, "title").text = name if fmt == "atom" else f"{name} (JSON Feed)"
    body = etree.SubElement(root, "body")
    groups: dict[str, etree._Element] = {}
    for feed in feeds:
        kind = kind_of(feed)
        if kind.name not in groups:
            groups[kind.name] = body if kind.home else etree.SubElement(body, "outline", text=kind.plural,
                                                                          title=kind.plural)
        name = feed_title(site, feed)
        etree.SubElement(
            groups[kind.name], "outline", type="rss", text=name, title=name,
            xmlUrl=feed_url(site, feed, fmt), htmlUrl=feed_page_url(site, feed),
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
