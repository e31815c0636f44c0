"""The values that flow through the pipeline: small, frozen, and free of I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
UNDETERMINED = "und"  # BCP 47: the language is not known


class FeeddError(Exception):
    """A failure the user can act on (bad configuration, no index yet…): the CLI prints it
    on one line and exits with 2; the daemon logs it."""


class Rejected(Exception):
    """A seed file that cannot be published, with the one-line reason why.

    The only error the pure stages raise for bad input; the edges catch it,
    record it in the index and log it, and carry on with the other files.
    """

    def __init__(self, path: str, reason: str):
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{shown_path(self.path)}: {self.reason}"


def shown_path(path: str) -> str:
    """A path fit for a one-line message: control characters escaped."""
    return path if path.isprintable() else repr(path)[1:-1]


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str


@dataclass(frozen=True)
class Parsed:
    """What a seed file says about itself, before any decision is made."""

    path: str
    title: str
    date: datetime | None  # from the header; None means "use the file's time"
    lang: str | None  # from the header; None means "detect it"
    author: str | None
    link: str | None
    id: str | None
    tags: tuple[str, ...]
    text: str  # plain text of the body, for detection and matching
    summary: str
    content_html: str
    shortened: tuple[str, ...] = ()  # fields cut to their limit, said by `feedd check`
    draft: str | None = None  # the header that holds it back ("draft: true"…); None: publish it


@dataclass(frozen=True)
class Document:
    """A document as the index stores it and the renderers show it."""

    path: str
    key: str  # stable and URL-safe: names the article page, ends the entry id
    id: str  # the entry id (a tag: URI); never changes once given
    hash: str
    title: str
    published: datetime
    updated: datetime
    lang: str  # BCP 47, or "und"
    topics: tuple[Topic, ...]
    author: str | None
    link: str | None
    summary: str
    content_html: str

    @cached_property
    def made_of(self) -> str:
        """What everything rendered of it is made of, as one string, computed once (its text
        fields are parsed from the file's bytes, ``hash``, and its path, so these stand for
        them): renderers key the entries they keep by it, a look-up per entry and format."""
        topics = "\x1f".join(f"{topic.slug}\x1e{topic.title}" for topic in self.topics)
        return "\x1d".join((self.path, self.key, self.id, self.hash, self.published.isoformat(),
                             self.updated.isoformat(), self.lang, topics))


@dataclass(frozen=True)
class Feed:
    """One published feed, e.g. ``all``, ``topics/<slug>``, ``languages/<code>``: see :mod:`feedd.feeds`."""

    name: str  # its path under feeds/, without the format's suffix
    kind: str  # the name of its kind in the feed registry
    title: str
    lang: str | None = None  # the single language of its entries, if there is one


def stamp(*parts: str) -> str:
    """A short digest of what some output is made of: when it changes, that output is made again."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
