"""Tag a document with topics (pure): its ``tags`` header, its folder, and rules.

A rule keyword matches whole words, case and accents ignored, in any of
their inflected forms in the document's language (the forms come from
:mod:`feedd.lemmas`, passed in); a keyword of several words matches them in
sequence; a keyword in a script written without spaces (Chinese, Japanese,
Thai) matches anywhere in the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .config import TopicRule, topic_slug
from .model import Topic

# folded keyword word → folded spellings that count as it (itself included)
Forms = Mapping[str, frozenset[str]]

_WORD = re.compile(r"\w+")
# Invisible format characters (soft hyphen, zero-width space and joiners, BOM)
# split nothing for a reader, so they split nothing here.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060-\u2064\ufeff]")
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACE = re.compile(r"\s+")
# Examples of matched text kept per keyword, for `feedd check`.
_EXAMPLES = 3


# Combining marks (accents, Hebrew points, Arabic harakat), for str.translate.
_COMBINING = dict.fromkeys(c for c in range(0x20000) if unicodedata.combining(chr(c)))  # none above
_IS_MARK = np.zeros(0x20000, dtype=bool)  # the same, by code point, for a whole document at once
_IS_MARK[list(_COMBINING)] = True
# From this length on, a text is mapped as an array of code points: str.translate looks up a
# dict for each character, ~8x slower on a document (a word or a keyword is mapped as text).
_LONG = 256


# Letters a language treats as letters of their own, not as a base letter with an optional mark:
# folding keeps them (Swedish "får" is not "far", German "wählen" is not "Wahlen", Spanish "peña"
# is not "pena", Ukrainian "ї" is not "і"). None: every mark is part of the letter, only case is
# ignored (Czech "být" is not "byt", Polish "są" is not "sa"). Other languages (French, English,
# Italian, Portuguese…) fold every mark: "Elysee" finds "Élysée".
DISTINCT_LETTERS: dict[str, str | None] = {
    "de": "äöü", "sv": "åäö", "fi": "äöå", "da": "æøå", "nb": "æøå", "nn": "æøå", "no": "æøå", "is": "áðéíóúýþæö",
    "et": "äöõüšž", "tr": "çğıöşü", "az": "çəğıöşü", "es": "ñ", "ca": "ç", "hr": "čćđšž", "bs": "čćđšž",
    "sr": "čćđšž", "sl": "čšž", "ru": "й", "uk": "йї", "be": "йў", "bg": "й",
    "cs": None, "sk": None, "pl": None, "hu": None, "ro": None, "lv": None, "lt": None, "vi": None,
}
_TURKIC = frozenset({"tr", "az"})  # dotted and dotless i: I → ı, İ → i


@lru_cache(maxsize=1 << 16)
def fold(word: str, lang: str = "und") -> str:
    """Case and the marks ``lang`` treats as optional ignored: ``Élysée`` → ``elysee``;
    in Swedish ``Får`` → ``får`` (its own letter), in Czech ``Být`` → ``být``."""
    return _fold(word, lang)


@lru_cache(maxsize=256)
def _folding(lang: str) -> tuple[bool, str | None, dict[int, str], dict[int, str]]:
    """(Turkic casing, the kept letters or None for "all", protect map, restore map) for ``lang``."""
    primary = lang.split("-")[0].lower()
    kept = DISTINCT_LETTERS.get(primary, "")
    letters = kept or ""
    protect = {ord(letter): chr(0xE000 + n) for n, letter in enumerate(letters)}
    restore = {0xE000 + n: letter for n, letter in enumerate(letters)}
    return primary in _TURKIC, kept, protect, restore


def _fold(text: str, lang: str = "und") -> str:
    turkic, kept, protect, restore = _folding(lang)
    if turkic:
        text = text.replace("I", "ı").replace("İ", "i")
    if text.isascii():
        return text.lower()
    if kept is None:
        return unicodedata.normalize("NFC", text.casefold())
    if not kept:
        return _unmarked(unicodedata.normalize("NFKD", text)).casefold()
    text = _swapped(unicodedata.normalize("NFC", text.casefold()), protect)
    return _swapped(_unmarked(unicodedata.normalize("NFKD", text)), restore)


def _unmarked(text: str) -> str:
    """``text`` without its combining marks."""
    if len(text) < _LONG:
        return text.translate(_COMBINING)
    points = _code_points(text)
    return _from_code_points(points[~_IS_MARK[np.minimum(points, _IS_MARK.size - 1)]])


def _swapped(text: str, letters: dict[int, str]) -> str:
    """``text.translate(letters)``, for a map of letters to letters."""
    if len(text) < _LONG:
        return text.translate(letters)
    points = _code_points(text).copy()
    for letter, other in letters.items():
        points[points == letter] = ord(other)
    return _from_code_points(points)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _from_code_points(points: np.ndarray) -> str:
    return points.tobytes().decode("utf-32-le", "surrogatepass")


def fold_words(words: list[str], lang: str = "und") -> list[str]:
    """``[fold(w) for w in words]``, in one pass over the joined text (C, not a call per word).

    Folding works character by character and never joins across a space, so the
    joined text folds to the folded words joined; the rare word whose folding
    holds a space itself (an Arabic ligature of a phrase) is folded on its own.
    """
    folded = _fold(" ".join(words), lang).split(" ")
    return folded if len(folded) == len(words) else [fold(word, lang) for word in words]


def words_of(keyword: str) -> list[str]:
    """A keyword's words as written (NFC), for the lemmatiser."""
    return _WORD.findall(_INVISIBLE.sub("", unicodedata.normalize("NFC", keyword)))


def rule_words(rules: Iterable[TopicRule], lang: str | None = None) -> set[str]:
    """Every word the rules may look for (in documents in ``lang``), whose inflections are wanted."""
    return {word for rule in rules
            for keyword in (rule.all_words() if lang is None else rule.keywords_for(lang) + rule.exclude)
            if not _UNSPACED.search(keyword) for word in words_of(keyword)}


def fold_forms(inflections: Mapping[str, Iterable[str]], lang: str = "und") -> dict[str, frozenset[str]]:
    """:func:`feedd.lemmas.lookup_many`'s answer for ``lang``, folded for matching in it."""
    folded: dict[str, set[str]] = {}
    for word, forms in inflections.items():
        folded.setdefault(fold(word, lang), set()).update(fold(form, lang) for form in forms)
    return {word: frozenset(forms) for word, forms in folded.items()}


@dataclass(frozen=True)
class Hit:
    keyword: str
    at: frozenset[int]  # where the matches start (negative: in unspaced text)
    examples: tuple[str, ...]  # the text's words that matched, as written

    @property
    def count(self) -> int:
        return len(self.at)


@dataclass(frozen=True)
class RuleMatch:
    """Why a rule applies to a document, or why not."""

    rule: TopicRule
    hits: tuple[Hit, ...]
    excluded_by: tuple[Hit, ...] = ()
    ignored: tuple[Hit, ...] = ()  # phrases of the rule's ``ignore`` list that held keywords (not counted)

    @property
    def count(self) -> int:
        """Places in the text that matched: ``drone`` and ``drones`` on one word count once."""
        return len(frozenset().union(*(hit.at for hit in self.hits)))

    @property
    def applies(self) -> bool:
        return self.count >= self.rule.min_hits and not self.excluded_by


class Text:
    """A document's words, folded once, looked up by every keyword."""

    def __init__(self, text: str, lang: str = "und"):
        self.lang = lang
        self.text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
        self.words = _WORD.findall(self.text)
        self.folded = fold_words(self.words, lang)
        self.positions: dict[str, list[int]] = {}
        for i, word in enumerate(self.folded):
            self.positions.setdefault(word, []).append(i)
        self._squeezed: str | None = None
        self._unspaced = _UNSPACED.search(self.text) is not None

    def find(self, keyword: str, forms: Forms) -> Hit | None:
        return self.find_compiled(keyword, compile_keyword(keyword, forms, self.lang))

    def find_compiled(self, keyword: str, wanted: tuple[frozenset[str], ...] | str,
                      skip: frozenset[int] = frozenset()) -> Hit | None:
        """Where ``keyword`` is; ``skip``: places (see :meth:`covered`) no occurrence may touch."""
        if isinstance(wanted, str):
            return self._find_unspaced(keyword, wanted, skip)
        if not wanted:
            return None
        starts = sorted(i for form in wanted[0] for i in self.positions.get(form, ()))
        at, examples, last_end = [], [], -1
        for i in starts:
            end = i + len(wanted)
            if i <= last_end or end > len(self.folded):
                continue  # overlapping a match already counted, or past the end
            if skip and any(j in skip for j in range(i, end)):
                continue  # inside an ignored phrase
            if all(self.folded[i + j] in wanted[j] for j in range(1, len(wanted))):
                at.append(i)
                last_end = end - 1
                example = " ".join(self.words[i:end])
                if len(examples) < _EXAMPLES and example not in examples:
                    examples.append(example)
        return Hit(keyword, frozenset(at), tuple(examples)) if at else None

    def _find_unspaced(self, keyword: str, needle: str, skip: frozenset[int] = frozenset()) -> Hit | None:
        if not self._unspaced or not needle:
            return None  # no Chinese, Japanese or Thai letter in the text
        if self._squeezed is None:
            self._squeezed = fold(_SPACE.sub("", self.text), self.lang)
        at, start = [], self._squeezed.find(needle)
        while start >= 0:
            if not any(-1 - k in skip for k in range(start, start + len(needle))):
                at.append(-1 - start)
            start = self._squeezed.find(needle, start + len(needle))
        return Hit(keyword, frozenset(at), (keyword,)) if at else None

    def covered(self, hit: Hit, wanted: tuple[frozenset[str], ...] | str) -> frozenset[int]:
        """Every place a hit spans: word numbers, or (negative, as :class:`Hit` says) letters of unspaced text."""
        if isinstance(wanted, str):
            return frozenset(-1 - k for start in hit.at for k in range(-1 - start, -1 - start + len(wanted)))
        return frozenset(i + j for i in hit.at for j in range(len(wanted)))


def compile_keyword(keyword: str, forms: Forms, lang: str = "und") -> tuple[frozenset[str], ...] | str:
    """A keyword as the folded spellings accepted for each of its words, or as
    one folded string to find anywhere (scripts written without spaces)."""
    if _UNSPACED.search(keyword):
        return fold(_SPACE.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFC", keyword))), lang)
    return tuple(forms.get(word, frozenset()) | {word} for word in (fold(w, lang) for w in words_of(keyword)))


class Matcher:
    """The rules compiled for one language: compile once, match many documents."""

    def __init__(self, rules: Iterable[TopicRule], lang: str, forms: Forms):
        self.forms = forms  # the inflections it was compiled with
        self.rules = [
            (rule,
             [(keyword, compile_keyword(keyword, _own_forms(rule, lang, forms), lang))
              for keyword in rule.keywords_for(lang)],
             [(keyword, compile_keyword(keyword, _own_forms(rule, lang, forms), lang)) for keyword in rule.exclude],
             # Idioms are fixed: their words match as written (case and accents aside), not inflected.
             [(phrase, compile_keyword(phrase, {}, lang)) for phrase in rule.ignored_for(lang)])
            for rule in rules
        ]
        self.lang = lang

    def match(self, title: str, text: str) -> list[RuleMatch]:
        """Each rule with a keyword in the document, and what matched (or excluded it, or did not count)."""
        words = Text(_haystack(title, text), self.lang)
        found = []
        for rule, keywords, exclude, ignore in self.rules:
            hits = tuple(hit for keyword, wanted in keywords if (hit := words.find_compiled(keyword, wanted)))
            if not hits:
                continue
            ignored: tuple[Hit, ...] = ()
            phrases = [(hit, words.covered(hit, wanted)) for phrase, wanted in ignore
                       if (hit := words.find_compiled(phrase, wanted))]
            if phrases:
                held = frozenset().union(*(words.covered(hit, wanted) for hit in hits
                                           for keyword, wanted in keywords if keyword == hit.keyword))
                ignored = tuple(hit for hit, places in phrases if places & held)
                skip = frozenset().union(*(places for _, places in phrases))
                hits = tuple(hit for keyword, wanted in keywords if (hit := words.find_compiled(keyword, wanted, skip)))
            excluded = tuple(hit for keyword, wanted in exclude if (hit := words.find_compiled(keyword, wanted)))
            found.append(RuleMatch(rule, hits, excluded, ignored))
        return found


def _own_forms(rule: TopicRule, lang: str, forms: Forms) -> Forms:
    """The language's forms, except for the words whose forms the rule lists itself."""
    if not rule.forms:
        return forms
    return ChainMap({fold(word, lang): frozenset(fold(form, lang) for form in listed)
                     for word, listed in rule.forms}, forms)


def match_rules(title: str, text: str, lang: str, rules: Iterable[TopicRule], forms: Forms) -> list[RuleMatch]:
    """Each rule with a keyword or an excluding word in the document, and what matched."""
    return Matcher(rules, lang, forms).match(title, text)


def kept_apart(title: str, text: str, lang: str, rules: Iterable[TopicRule]) -> list[tuple[TopicRule, str, str]]:
    """(rule, keyword, the text's word) where a word would be the keyword if ``lang`` ignored its
    marks, as other languages do: what its own letters keep apart (``feedd check`` says so)."""
    if lang.split("-")[0].lower() not in DISTINCT_LETTERS:
        return []
    haystack = _haystack(title, text)
    own, loose = Text(haystack, lang), Text(haystack)
    found = []
    for rule in rules:
        for keyword in rule.keywords_for(lang):
            hit = loose.find_compiled(keyword, compile_keyword(keyword, {}))
            if hit and not own.find_compiled(keyword, compile_keyword(keyword, {}, lang)):
                found += [(rule, keyword, example) for example in hit.examples]
    return found


def left_out(title: str, text: str, lang: str, rules: Iterable[TopicRule],
             forms: Forms) -> list[tuple[TopicRule, str, str]]:
    """(rule, keyword, the text's word) where a word is a form of the keyword that the rule's own
    ``forms`` list leaves out (``training`` for ``train = ["trains"]``): ``feedd check`` says so."""
    words = Text(_haystack(title, text), lang)
    found = []
    for rule in rules:
        if not rule.forms:
            continue
        for keyword in rule.keywords_for(lang):
            every = words.find_compiled(keyword, compile_keyword(keyword, forms, lang))
            listed = words.find_compiled(keyword, compile_keyword(keyword, _own_forms(rule, lang, forms), lang))
            for at in sorted(every.at - (listed.at if listed else frozenset())) if every else ():
                if (rule, keyword, words.words[at]) not in found:
                    found.append((rule, keyword, words.words[at]))
    return found


def _haystack(title: str, text: str) -> str:
    """The title counts once: it is often the text's first sentence."""
    head = title.rstrip("…").strip()
    return text if head and text.startswith(head) else f"{title}\n{text}"


@dataclass(frozen=True)
class Tagging:
    topics: tuple[Topic, ...]
    sources: dict[str, str] = field(default_factory=dict)  # slug → "tags", "folder" or "rule"
    matches: tuple[RuleMatch, ...] = ()


def assign_topics(
    title: str,
    text: str,
    tags: Iterable[str],
    folder: str | None,
    rules: tuple[TopicRule, ...],
    lang: str = "und",
    forms: Forms | None = None,
    matcher: Matcher | None = None,
) -> Tagging:
    """Merge the three sources; a configured rule's title wins for its slug."""
    titles = {rule.slug: rule.title for rule in rules}
    found: dict[str, str] = {}
    sources: dict[str, str] = {}
    for source, names in (("tags", tags), ("folder", [folder] if folder else [])):
        for name in names:
            slug = topic_slug(name)
            if slug and slug not in found:
                found[slug] = titles.get(slug, name)
                sources[slug] = source
    matcher = matcher or Matcher(rules, lang, forms or {})
    matches = tuple(matcher.match(title, text))
    for match in matches:
        if match.applies and match.rule.slug not in found:
            found[match.rule.slug] = match.rule.title
            sources[match.rule.slug] = "rule"
    return Tagging(tuple(Topic(slug, found[slug]) for slug in sorted(found)), sources, matches)


def folder_of(path: str) -> str | None:
    """The first folder of a seed's relative path (``ukraine/a.txt`` → ``ukraine``)."""
    head, sep, _ = path.partition("/")
    return head if sep else None
