"""The one configuration object, loaded and validated once from ``feedd.toml``.

Every stage receives the parts of :class:`Config` it needs; nothing reads
settings from globals or the environment.
"""

from __future__ import annotations

import dataclasses
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slugify import slugify

from . import icons

from .model import FeeddError

CONFIG_NAME = "feedd.toml"


class ConfigError(FeeddError, ValueError):
    """``feedd.toml`` is unreadable or names a bad key or value."""


@dataclass(frozen=True)
class SiteConfig:
    title: str = "feedd"
    description: str = "Articles published by feedd"
    base_url: str = "http://127.0.0.1:8080/"
    author: str = "feedd"
    # The RFC 4151 tagging entity of every id. Deliberately not derived from
    # base_url: moving the site must not turn old entries into new ones.
    tag_authority: str = "feedd.localhost,2026"
    # Dates without a time or zone get midnight in this zone, on every build.
    timezone: str = "UTC"
    # Images under the project (PNG, JPEG, GIF, ICO…; "": feedd's own): the feeds' and pages' face.
    icon: str = ""  # square: Atom icon, RSS image, JSON Feed icon and favicon, favicon.ico
    logo: str = ""  # wide, about 2:1: Atom logo

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class PathsConfig:
    seeds: Path = Path("seeds")
    feeds: Path = Path("feeds")
    state: Path = Path(".feedd")

    @property
    def index(self) -> Path:
        return self.state / "index.sqlite3"


@dataclass(frozen=True)
class InputConfig:
    max_bytes: int = 10_000_000


@dataclass(frozen=True)
class FeedsConfig:
    max_items: int = 50
    full_content: bool = True
    # RFC 5005: entries that left a feed live on numbered archive pages of this
    # many entries (0: no archives). A change applies to pages opened after it.
    archive_page_size: int = 100
    # Feed kinds besides everything, topics and languages (feedd/feeds.py):
    authors: bool = True  # authors/<slug>: the documents of one author: header
    topic_languages: bool = True  # topics/<slug>/<lang>: one topic in one language


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_age: int = 60  # Cache-Control max-age, seconds
    # Closed archive pages (a later page exists) do not change: caches keep them this long.
    archive_max_age: int = 31_536_000


@dataclass(frozen=True)
class WebSubConfig:
    hubs: tuple[str, ...] = ()  # WebSub hubs told of every changed feed
    retries: int = 5  # further attempts after a failed notification
    backoff_seconds: float = 2.0  # the first retry's wait, doubled for each next one
    timeout_seconds: float = 10.0  # per request


@dataclass(frozen=True)
class LanguageConfig:
    # Below this many characters a detector guesses; feedd says "und" instead
    # (unless the script decides, or for enough Han characters).
    min_chars: int = 20
    # Below this confidence the answer is "und", never a confident mistake
    # (0.7: bench/language.py, best accuracy at fewer wrong answers than langdetect).
    threshold: float = 0.70
    # Restrict answers to the languages a site publishes in (empty: any).
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class DaemonConfig:
    # A file is read this long after its writer closed it (or it moved in), so that a writer that
    # closes and opens it again at once (a script appending in steps) is read once, whole.
    # (watchexec debounces file events by the same 50 ms.)
    settle_seconds: float = 0.05
    # ...or after this long without any change, if no close is ever seen.
    write_timeout_seconds: float = 5.0
    # Full rescans, in case the watcher missed anything (an inotify overflow).
    rescan_seconds: float = 300.0


@dataclass(frozen=True)
class TopicRule:
    slug: str
    title: str
    keywords: tuple[str, ...] = ()  # for documents in any language
    by_language: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (language, keywords) for that language only
    exclude: tuple[str, ...] = ()  # any of these, and the rule does not apply
    min_hits: int = 1  # occurrences of its keywords needed
    formerly: tuple[str, ...] = ()  # slugs it was published under before: their URLs redirect here (301)
    # (language, phrases): where a keyword sits inside one of these (an idiom: "en train de",
    # "Zug um Zug"), that occurrence does not count; unlike exclude, the topic is not vetoed.
    ignore: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (word, forms): a keyword word that matches these forms only (and itself), in place of every
    # form its lemma has ("match" → "matches", never "matching").
    forms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def keywords_for(self, lang: str) -> tuple[str, ...]:
        """``keywords`` plus the list for ``lang`` (``fr`` also serves ``fr-CA``)."""
        extra = [words for code, words in self.by_language if code == lang or code == lang.split("-")[0]]
        return self.keywords + tuple(word for words in extra for word in words)

    def ignored_for(self, lang: str) -> tuple[str, ...]:
        """Phrases whose keywords do not count in ``lang`` (``fr`` also serves ``fr-CA``)."""
        return tuple(phrase for code, phrases in self.ignore if code == lang or code == lang.split("-")[0]
                     for phrase in phrases)

    def all_words(self) -> tuple[str, ...]:
        return self.keywords + self.exclude + tuple(w for _, words in self.by_language for w in words)


@dataclass(frozen=True)
class Config:
    root: Path
    site: SiteConfig = field(default_factory=SiteConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    input: InputConfig = field(default_factory=InputConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)
    topics: tuple[TopicRule, ...] = ()

    @property
    def seeds_dir(self) -> Path:
        return self.root / self.paths.seeds

    @property
    def feeds_dir(self) -> Path:
        return self.root / self.paths.feeds

    @property
    def index_path(self) -> Path:
        return self.root / self.paths.index


_SECTIONS = {
    "site": SiteConfig,
    "paths": PathsConfig,
    "input": InputConfig,
    "feeds": FeedsConfig,
    "server": ServerConfig,
    "language": LanguageConfig,
    "daemon": DaemonConfig,
    "websub": WebSubConfig,
}


def load_config(root: Path, path: Path | None = None) -> Config:
    """Read ``root/feedd.toml`` (or ``path``); a missing file means defaults."""
    root = Path(root).resolve()
    path = path or root / CONFIG_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if path != root / CONFIG_NAME:
            raise ConfigError(f"{path}: no such file") from None
        data = {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return config_from_dict(root, data, source=path.name)


def config_from_dict(root: Path, data: dict[str, Any], source: str = CONFIG_NAME) -> Config:
    unknown = set(data) - set(_SECTIONS) - {"topics"}
    if unknown:
        raise ConfigError(f"{source}: unknown section [{sorted(unknown)[0]}]")
    sections = {}
    for name, cls in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        sections[name] = _build_section(cls, name, table, source)
    config = Config(root=Path(root).resolve(), topics=_topic_rules(data.get("topics", {}), source), **sections)
    _validate(config, source)
    return config


def _build_section(cls: type, name: str, table: dict[str, Any], source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {name}.{key}")
        default = fields[key].default
        values[key] = _coerce(value, default, f"{name}.{key}", source)
    return cls(**values)


def _coerce(value: Any, default: Any, key: str, source: str) -> Any:
    """Check ``value`` against the type of the field's default."""
    expected = type(default)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, Path):
        ok = isinstance(value, str) and value != ""
        value = Path(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
        expected = list
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise ConfigError(f"{source}: {key} must be {_type_name(expected)}, not {value!r}")
    return value


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list of strings", Path: "a path"}.get(t, t.__name__)


def topic_slug(name: str) -> str:
    """ASCII slug of a topic or tag name (``Défense`` → ``defense``)."""
    return slugify(unicodedata.normalize("NFC", name), max_length=80, word_boundary=True)


def _topic_rules(table: Any, source: str) -> tuple[TopicRule, ...]:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [topics] must be a table of [topics.<name>] tables")
    rules = {}
    for name, body in table.items():
        key = f"topics.{name}"
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: [{key}] must be a table")
        slug = topic_slug(name)
        if not slug:
            raise ConfigError(f"{source}: [{key}] has no usable ASCII slug")
        if slug in rules:
            raise ConfigError(f"{source}: [{key}] has the same slug {slug!r} as another topic")
        unknown = set(body) - {"title", "keywords", "by_language", "exclude", "min_hits", "formerly", "ignore",
                               "forms"}
        if unknown:
            raise ConfigError(f"{source}: unknown key {key}.{sorted(unknown)[0]}")
        title = _coerce(body.get("title", name), "", f"{key}.title", source)
        keywords = _keyword_list(body.get("keywords", []), f"{key}.keywords", source)
        exclude = _keyword_list(body.get("exclude", []), f"{key}.exclude", source)
        min_hits = _coerce(body.get("min_hits", 1), 1, f"{key}.min_hits", source)
        if min_hits < 1:
            raise ConfigError(f"{source}: {key}.min_hits must be at least 1")
        by_language = body.get("by_language", {})
        if not isinstance(by_language, dict):
            raise ConfigError(f"{source}: {key}.by_language must be a table like {{ fr = [\"…\"] }}")
        per_language = _per_language(by_language, f"{key}.by_language", source)
        ignore = body.get("ignore", {})
        if not isinstance(ignore, dict):
            raise ConfigError(f"{source}: {key}.ignore must be a table like {{ fr = [\"en train de\"] }}")
        ignore = _per_language(ignore, f"{key}.ignore", source)
        only = body.get("forms", {})
        if not isinstance(only, dict):
            raise ConfigError(f"{source}: {key}.forms must be a table like {{ match = [\"match\", \"matches\"] }}")
        only = tuple((unicodedata.normalize("NFC", word), _keyword_list(words, f"{key}.forms.{word}", source))
                     for word, words in sorted(only.items()))
        formerly = tuple(dict.fromkeys(topic_slug(old) for old in _keyword_list(body.get("formerly", []),
                                                                              f"{key}.formerly", source)))
        rules[slug] = TopicRule(slug=slug, title=title, keywords=keywords, by_language=per_language,
                                exclude=exclude, min_hits=min_hits, formerly=formerly, ignore=ignore, forms=only)
    former = {}
    for rule in rules.values():
        for old in rule.formerly:
            if old in rules or old in former:
                raise ConfigError(f"{source}: topics.{rule.slug}.formerly names {old!r}, which is"
                                  f" {'a topic' if old in rules else 'the former slug of ' + former[old]} already")
            former[old] = rule.slug
    return tuple(rules[s] for s in sorted(rules))


def _per_language(table: dict, key: str, source: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((_language_key(code, f"{key}.{code}", source), _keyword_list(words, f"{key}.{code}", source))
                 for code, words in sorted(table.items()))


def _keyword_list(value: Any, key: str, source: str) -> tuple[str, ...]:
    words = _coerce(value, (), key, source)
    if any(not word.strip() for word in words):
        raise ConfigError(f"{source}: {key} has an empty keyword")
    return tuple(unicodedata.normalize("NFC", word.strip()) for word in words)


def _language_key(code: str, key: str, source: str) -> str:
    if not code.replace("-", "").isalnum() or not 2 <= len(code.split("-")[0]) <= 3:
        raise ConfigError(f"{source}: {key} is not a language code like 'fr' or 'pt-BR'")
    return code


def _validate(config: Config, source: str) -> None:
    site = config.site
    url = urlsplit(site.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError(f"{source}: site.base_url must be an absolute http(s) URL, not {site.base_url!r}")
    if not site.base_url.endswith("/"):
        raise ConfigError(f"{source}: site.base_url must end with '/', not {site.base_url!r}")
    authority, _, date = site.tag_authority.partition(",")
    if not authority or not date or not date.replace("-", "").isdigit():
        raise ConfigError(f"{source}: site.tag_authority must look like 'example.org,2026', not {site.tag_authority!r}")
    try:
        site.zone
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{source}: site.timezone {site.timezone!r} is not a known time zone") from None
    for key in ("icon", "logo"):
        value = getattr(site, key)
        if not value:
            continue
        path = (config.root / value).resolve()
        if not path.is_relative_to(config.root):
            raise ConfigError(f"{source}: site.{key} must be a path under the project, not {value!r}")
        problem = icons.check(path)
        if problem:
            raise ConfigError(f"{source}: site.{key} {value!r}: {problem}")
    if not 1 <= config.feeds.max_items <= 1000:
        raise ConfigError(f"{source}: feeds.max_items must be between 1 and 1000")
    if not 0 < config.server.port < 65536 and config.server.port != 0:
        raise ConfigError(f"{source}: server.port must be between 0 and 65535")
    if config.input.max_bytes < 1:
        raise ConfigError(f"{source}: input.max_bytes must be positive")
    if not 0.0 <= config.language.threshold <= 1.0:
        raise ConfigError(f"{source}: language.threshold must be between 0 and 1")
    if config.daemon.settle_seconds < 0 or config.daemon.rescan_seconds <= 0:
        raise ConfigError(f"{source}: daemon.settle_seconds must be >= 0 and daemon.rescan_seconds > 0")
    if config.daemon.write_timeout_seconds < config.daemon.settle_seconds:
        raise ConfigError(f"{source}: daemon.write_timeout_seconds must be >= daemon.settle_seconds")
    if config.server.max_age < 0 or config.server.archive_max_age < 0:
        raise ConfigError(f"{source}: server.max_age and server.archive_max_age must be >= 0")
    if not (config.feeds.archive_page_size == 0 or 10 <= config.feeds.archive_page_size <= 1000):
        raise ConfigError(f"{source}: feeds.archive_page_size must be 0 (no archives) or between 10 and 1000")
    for hub in config.websub.hubs:
        parts = urlsplit(hub)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{source}: websub.hubs must hold absolute http(s) URLs, not {hub!r}")
    if config.websub.retries < 0 or config.websub.backoff_seconds <= 0 or config.websub.timeout_seconds <= 0:
        raise ConfigError(f"{source}: websub.retries must be >= 0, backoff_seconds and timeout_seconds > 0")


DEFAULT_TOML = '''\
# feedd configuration. Paths are relative to the folder holding this file.

[site]
title = "{title}"
description = "Articles published by feedd"
# Where feeds/ is served; self links and article links are built from it.
base_url = "http://127.0.0.1:8080/"
author = "feedd"
# The fixed part of every entry id (RFC 4151 tag URI: a domain you own and a
# year). Set it once and never change it: readers de-duplicate by id.
tag_authority = "feedd.localhost,2026"
# Dates without a time get midnight in this zone.
timezone = "UTC"
# The site's face in feed readers and browsers: images under this folder
# ("" uses feedd's own). icon: square; logo: wide, about 2:1.
icon = ""
logo = ""

[paths]
seeds = "seeds"   # input: drop .txt or .md articles here
feeds = "feeds"   # output: static files, serve with feedd or any web server
state = ".feedd"  # the index (SQLite)

[input]
max_bytes = 10_000_000   # larger files are rejected

[feeds]
max_items = 50        # entries per feed, newest first
full_content = true   # full text in every entry, not just the summary
archive_page_size = 100  # older entries on RFC 5005 archive pages of this size (0: none)
authors = true          # a feed per author (authors/<slug>), from the "author:" header
topic_languages = true  # a feed per topic and language (topics/<slug>/<lang>)

[server]
host = "127.0.0.1"
port = 8080
max_age = 60   # Cache-Control max-age of served files, seconds
archive_max_age = 31536000  # ...and of archive pages that can no longer change

[websub]
hubs = []              # e.g. ["https://pubsubhubbub.appspot.com/"]: told of every changed feed
retries = 5            # a failed notification is tried again, waiting
backoff_seconds = 2.0  # 2, 4, 8... seconds
timeout_seconds = 10.0

[language]
min_chars = 20     # shorter text is "und" (undetermined), never a guess
threshold = 0.70   # lower detector confidence is "und"
candidates = []    # e.g. ["fr", "en"] to restrict answers to these

[daemon]
settle_seconds = 0.05        # read a file this long after its writer closed it
write_timeout_seconds = 5.0  # or after this long unchanged, if no close is seen
rescan_seconds = 300         # full rescan of seeds/, in case the watcher missed anything

# Topic rules: a document is tagged with a topic when a keyword occurs as a
# whole word or phrase (case and accents ignored, inflected forms too:
# "drone" finds "drones") in its title or body. Documents are also tagged by
# their "tags:" header and by their first folder under seeds/.
[topics.example]
title = "Example"
keywords = ["example"]          # any language
# exclude = ["counterexample"]  # any of these, and the topic does not apply
# min_hits = 1                  # keyword occurrences needed
# [topics.example.by_language]  # more keywords, only for documents in that language
# fr = ["exemple"]
# de = ["Beispiel"]
'''
