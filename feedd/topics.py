"""Tag a document with topics (pure): its ``tags`` header, its folder, and rules."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from .config import TopicRule, topic_slug
from .model import Topic

_WORD = re.compile(r"\w+")
# Accents and other combining marks (Latin, Greek, Cyrillic, Hebrew points,
# Arabic harakat), and invisible format characters (zero-width space, soft hyphen).
_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u00ad\u200b-\u200f\u2060-\u2064\ufeff]"
)
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def match_text(text: str) -> str:
    """Words of ``text``, accents and case folded, one space apart and around.

    A keyword (or phrase) matches as a whole word when its own ``match_text``
    is a substring of this; that handles single words and phrases alike.
    """
    stripped = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return " " + " ".join(_WORD.findall(stripped.casefold())) + " "


def matching_rules(title: str, text: str, rules: Iterable[TopicRule]) -> list[TopicRule]:
    haystack = match_text(title + "\n" + text)
    return [rule for rule in rules if any(needle in haystack for needle in _needles(rule.keywords))]


@lru_cache(maxsize=4096)
def _needles(keywords: tuple[str, ...]) -> tuple[str, ...]:
    """Match forms of the keywords: ``" word "``, or bare for unspaced scripts."""
    needles = []
    for keyword in keywords:
        needle = match_text(keyword)
        if needle.strip():
            # Chinese, Japanese and Thai do not separate words: match anywhere.
            needles.append(needle.strip() if _UNSPACED.search(needle) else needle)
    return tuple(needles)


def assign_topics(
    title: str,
    text: str,
    tags: Iterable[str],
    folder: str | None,
    rules: tuple[TopicRule, ...],
) -> tuple[Topic, ...]:
    """Merge the three sources; a configured rule's title wins for its slug."""
    titles = {rule.slug: rule.title for rule in rules}
    found: dict[str, str] = {}
    for name in [*tags, *([folder] if folder else [])]:
        slug = topic_slug(name)
        if slug:
            found.setdefault(slug, titles.get(slug, name))
    for rule in matching_rules(title, text, rules):
        found.setdefault(rule.slug, rule.title)
    return tuple(Topic(slug, found[slug]) for slug in sorted(found))


def folder_of(path: str) -> str | None:
    """The first folder of a seed's relative path (``ukraine/a.txt`` → ``ukraine``)."""
    head, sep, _ = path.partition("/")
    return head if sep else None
