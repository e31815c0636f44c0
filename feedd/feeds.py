"""The feed registry: every kind of feed feedd publishes, defined once.

A kind says which of its feeds a document belongs to (from the analysed
document alone), what those feeds are called, how people see them, whether
they have archives, and which ``[feeds]`` switch turns the kind on. The
index, reconciliation, rendering, pages and the daemon ask this module;
nothing else names a kind. Adding a kind is adding a :class:`FeedKind` below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .model import UNDETERMINED, Document, Feed


class UnknownFeedKind(ValueError):
    """A feed whose kind no definition here names: an error, never "everything"."""


@dataclass(frozen=True)
class FeedKind:
    name: str  # stored with each feed in the index
    label: str  # one feed of the kind, for people ("Topic")
    plural: str  # the group, for people: OPML outlines, the index page's sections
    members: Callable[[Document], list[Feed]]  # the feeds of this kind a document is in
    switch: str | None = None  # the [feeds] key that turns the kind on; None: always on
    home: bool = False  # the site's own feed: its page is the front page, it goes by the site's name
    section: str | None = None  # id of the index page's section listing these feeds; None: not listed there
    empty: str = ""  # what that section says before the first feed
    parent: Callable[[Feed], str] | None = None  # the feed whose page lists this one
    archives: bool = True  # RFC 5005 archive pages, when [feeds] archive_page_size is set
    whole_language: bool = False  # one feed per language, holding every document in it
    # Where an article's page and list item link to its feeds of this kind:
    # "meta" (its date line), "tags" (its tag line), "byline" (its author); None: nowhere.
    on_article: str | None = None
    # Offered for autodiscovery on an article's page, in this order (None: not offered): the
    # article's most specific feeds first, since readers subscribe to the first one they find.
    article_rank: int | None = None


@lru_cache(maxsize=4096)
def language_name(code: str) -> str:
    """``fr`` → ``French (français)``: for people, never for ids or URLs.

    langcodes loads every name of every language to answer (18 MB a process):
    the answers are kept in the machine's cache folder, so that a daemon that
    publishes the languages it published before never loads them."""
    names = _cached_names()
    if code not in names:
        names[code] = _language_name(code)
        _save_names(names)
    return names[code]


def _names_path() -> Path:
    from importlib.metadata import version

    from .lemmas import cache_path

    return cache_path().parent / f"language-names-{version('langcodes')}-{version('language-data')}.json"


@lru_cache(maxsize=1)
def _cached_names() -> dict[str, str]:
    try:
        names = json.loads(_names_path().read_text(encoding="utf-8"))
        return names if isinstance(names, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_names(names: dict[str, str]) -> None:
    path = _names_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(names, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # asked again by the next process: time, never correctness


def _language_name(code: str) -> str:
    import langcodes

    try:
        language = langcodes.Language.get(code)
        name, autonym = language.display_name(), language.autonym()
    except (ValueError, LookupError):
        return code
    return name if autonym in (name, "") or autonym.startswith("Unknown") else f"{name} ({autonym})"


def author_slug(author: str) -> str:
    """Authors are slugged like topics (``Anaïs Dupont`` → ``anais-dupont``)."""
    from .config import topic_slug

    return topic_slug(author)


EVERYTHING = Feed("all", "all", "Everything")


def _everything(doc: Document) -> list[Feed]:
    return [EVERYTHING]


def _topics(doc: Document) -> list[Feed]:
    return [topic_feed(topic.slug, topic.title) for topic in doc.topics]


def topic_feed(slug: str, title: str = "") -> Feed:
    """The feed of one topic, by its slug (a rule's, a tag's or a folder's)."""
    return Feed(f"topics/{slug}", "topic", title)


def _language(doc: Document) -> list[Feed]:
    if doc.lang == UNDETERMINED:
        return []
    return [Feed(f"languages/{doc.lang}", "language", language_name(doc.lang), doc.lang)]


def _author(doc: Document) -> list[Feed]:
    slug = author_slug(doc.author) if doc.author else ""
    return [Feed(f"authors/{slug}", "author", doc.author)] if slug else []


def _topic_in_language(doc: Document) -> list[Feed]:
    if doc.lang == UNDETERMINED:
        return []
    language = language_name(doc.lang)
    return [Feed(f"topics/{topic.slug}/{doc.lang}", "topic-language", f"{topic.title} in {language}", doc.lang)
            for topic in doc.topics]


# In the order feeds are listed everywhere (pages, OPML, publishing).
KINDS: tuple[FeedKind, ...] = (
    FeedKind("all", "Everything", "Everything", _everything, home=True, article_rank=3),
    FeedKind("topic", "Topic", "Topics", _topics, section="topics", empty="No topics yet.",
             on_article="tags", article_rank=0),
    FeedKind("language", "Language", "Languages", _language, section="languages", empty="No languages yet.",
             on_article="meta", article_rank=2, whole_language=True),
    FeedKind("author", "Author", "Authors", _author, switch="authors", section="authors", empty="No authors yet.",
             on_article="byline", article_rank=1),
    FeedKind("topic-language", "Topic in one language", "Topics in one language", _topic_in_language,
             switch="topic_languages", parent=lambda feed: feed.name.rsplit("/", 1)[0]),
)
_BY_NAME = {kind.name: kind for kind in KINDS}
_ORDER = {kind.name: n for n, kind in enumerate(KINDS)}


def kind_of(feed: Feed | str) -> FeedKind:
    """The definition of a feed's kind (or of a kind by name)."""
    name = feed if isinstance(feed, str) else feed.kind
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownFeedKind(f"unknown feed kind {name!r}") from None


def memberships(doc: Document) -> list[Feed]:
    """Every feed ``doc`` belongs to, of every kind, switched on or not (the index keeps them all,
    so switching a kind on publishes it without reading any document again)."""
    return [feed for kind in KINDS for feed in kind.members(doc)]


def member_names(doc: Document | None) -> set[str]:
    return {feed.name for feed in memberships(doc)} if doc is not None else set()


def is_enabled(kind: FeedKind, switches: object) -> bool:
    """``switches``: the ``[feeds]`` section (:class:`feedd.config.FeedsConfig`)."""
    return kind.switch is None or bool(getattr(switches, kind.switch))


def published(feeds: Iterable[Feed], switches: object) -> list[Feed]:
    """The feeds of kinds switched on, in the registry's order."""
    return ordered(feed for feed in feeds if is_enabled(kind_of(feed), switches))


def ordered(feeds: Iterable[Feed]) -> list[Feed]:
    return sorted(feeds, key=_rank)


def _rank(feed: Feed) -> tuple[int, str]:
    return _ORDER[kind_of(feed).name], feed.name


def configured(topic_rules: Iterable) -> list[Feed]:
    """Feeds that exist before their first document: everything, and each topic rule's."""
    return [EVERYTHING] + [topic_feed(rule.slug, rule.title) for rule in topic_rules]


def retired(registered: Sequence[Feed], from_rules: set[str], topic_rules: Sequence, switches: object,
            has_members: Callable[[str], bool]) -> tuple[list[Feed], dict[str, Feed]]:
    """Feeds that subscribers must be told about: (gone, moved by old name).

    Gone (410): a topic whose rule left feedd.toml and that no document has any
    more, its feeds in one language with it, and the feeds of a kind switched
    off. Moved (301): a topic whose slug changed (``formerly``), and its feeds
    in one language, to the same feed under the new slug (or to that topic).
    """
    by_name = {feed.name: feed for feed in registered}
    live_rules = {feed.name for feed in configured(topic_rules)}
    dead_rules = {name for name in from_rules - live_rules if not has_members(name)}
    moved: dict[str, Feed] = {}
    for rule in topic_rules:
        new = topic_feed(rule.slug, rule.title)
        new = by_name.get(new.name, new)
        for old in (topic_feed(slug).name for slug in rule.formerly):
            if not has_members(old):
                moved[old] = new
                dead_rules.discard(old)
    gone: list[Feed] = []
    for feed in registered:
        kind = kind_of(feed)
        parent = kind.parent(feed) if kind.parent else None
        if feed.name in moved:
            continue
        if not is_enabled(kind, switches):
            gone.append(feed)
        elif feed.name in dead_rules:
            gone.append(feed)
        elif (parent in moved or parent in dead_rules) and not has_members(feed.name):
            if parent in moved:
                target = moved[parent]
                moved[feed.name] = by_name.get(target.name + feed.name[len(parent):], target)
            else:
                gone.append(feed)
    return ordered(gone), moved


# Retired and renamed feeds' paths, as nginx map files (deploy/ includes them; feedd's server
# reads them too). Hidden names: neither server ever serves them.
GONE_MAP = ".feedd-gone.map"
MOVED_MAP = ".feedd-moved.map"


def files(feed: Feed, archive_pages: int = 0) -> list[str]:
    """Every file a feed is published as: its formats, its page, its archive pages."""
    return ([feed_path(feed, fmt) for fmt in ("atom", "rss", "json")] + [page_path(feed)]
            + [archive_path(feed, page) for page in range(1, archive_pages + 1)])


def moved_files(old: Feed, new: Feed, archive_pages: int = 0) -> dict[str, str]:
    """Where each file of ``old`` is now: the same format of ``new`` (an archive page: its current feed)."""
    moves = dict(zip(files(old), files(new)))
    moves.update({path: feed_path(new, "atom") for path in files(old, archive_pages)[len(moves):]})
    return moves


def children(feeds: Sequence[Feed]) -> dict[str, list[Feed]]:
    """Each feed's name, and the feeds whose page is listed on its page (a topic's feeds in one
    language), in order: asked once for all of them, not once a feed (200 feeds at 100,000)."""
    found: dict[str, list[Feed]] = {}
    for other in feeds:
        if parent := kind_of(other).parent:
            found.setdefault(parent(other), []).append(other)
    return found


def home(feeds: Iterable[Feed]) -> Feed:
    """The site's own feed (everything), whatever else is published."""
    return next((feed for feed in feeds if kind_of(feed).home), EVERYTHING)


# -- names people and URLs see ----------------------------------------------------

def feed_path(feed: Feed, fmt: str) -> str:
    return f"{feed.name}.{fmt}"


def page_path(feed: Feed) -> str:
    """The HTML page of a feed; the home feed's is the front page."""
    return "index.html" if kind_of(feed).home else f"{feed.name}.html"


def archive_path(feed: Feed, page: int) -> str:
    """RFC 5005 archive page ``page`` (from 1, the oldest) of ``feed``: Atom only."""
    return f"{feed.name}/archive/{page}.atom"


def title(site_title: str, feed: Feed) -> str:
    return site_title if kind_of(feed).home else f"{site_title}: {feed.title}"


def description(site_description: str, feed: Feed) -> str:
    return site_description if kind_of(feed).home else f"{site_description}: {feed.title}"
