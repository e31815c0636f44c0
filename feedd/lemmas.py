"""Inflected forms of topic keywords, from simplemma's dictionaries.

A word matches a keyword when both have the same lemma. Rather than
lemmatising every word of every document, feedd asks the dictionary the
reverse question once: which surface forms have this keyword's lemma?
(``drone`` → ``drones``, ``droned``; ``Україна`` → ``Україні``, ``України``.)
Matching is then a set lookup, and the dictionaries (40–400 MB and up to
3 s to load per language) are only ever loaded in a short-lived child
process, never in the daemon. The answers depend on nothing but the word,
the language and :data:`LEMMATISER`, so they are kept in a per-user cache
(:func:`cache_path`) shared by every project: each language and keyword is
looked up once per machine.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sqlite3
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from difflib import SequenceMatcher
from importlib.metadata import version
from pathlib import Path

from .topics import fold

log = logging.getLogger(__name__)

# What the cached forms were made by; "own forms": a keyword's own inflections are looked up too;
# "bare stems": stems compared without their marks (German "Züge" is a form of "Zug"); "analogy":
# the forms the dictionary lacks, made as the words with the same ending make theirs.
LEMMATISER = f"simplemma {version('simplemma')}, own forms, bare stems, analogy"

# BCP 47 primary subtags that simplemma spells otherwise.
_CODES = {"no": "nb", "sr": "hbs", "hr": "hbs", "bs": "hbs"}


def lemmatiser_language(lang: str) -> str | None:
    """simplemma's code for a document language, or None when it has no dictionary."""
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    primary = lang.split("-")[0].lower()
    code = _CODES.get(primary, primary)
    return code if code in SUPPORTED_LANGUAGES else None


def warm_up() -> None:
    """Import the lemmatiser ahead of the first rules compiled (a tenth of a second)."""
    lemmatiser_language("en")


def cache_path() -> Path:
    """systemd's CacheDirectory=, else the XDG cache folder."""
    if os.environ.get("CACHE_DIRECTORY"):
        return Path(os.environ["CACHE_DIRECTORY"].split(":")[0]) / "inflections.sqlite3"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "feedd" / "inflections.sqlite3"


def lookup(lang: str, words: Iterable[str], cache: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Each word's forms in ``lang``: from the cache, or computed once and cached."""
    return lookup_many({lang: words}, cache)[lang]


# Answers this process already has: a daemon's every change needs them, and
# where the cache cannot be written (a read-only home) they are not computed
# again in a child process each time. A memo of a pure function.
_known: dict[tuple[str, str], tuple[str, ...]] = {}


def lookup_many(wanted: Mapping[str, Iterable[str]],
                cache: Path | None = None) -> dict[str, dict[str, tuple[str, ...]]]:
    """:func:`lookup` for several languages (language → its words), the missing ones computed side by side.

    A cache that cannot be opened or written costs time once, never correctness.
    """
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    missing: dict[str, set[str]] = {}
    for lang in sorted(wanted):
        words = set(wanted[lang])
        if lemmatiser_language(lang) is None:
            found[lang] = {word: (word,) for word in words}
            continue
        found[lang] = {word: _known[lang, word] for word in words if (lang, word) in _known}
        if words - found[lang].keys():
            missing[lang] = words - found[lang].keys()
    if missing:
        for lang, forms in _from_cache(missing, cache or cache_path()).items():
            found[lang].update(forms)
            _known.update(((lang, word), word_forms) for word, word_forms in forms.items())
    return found


def _from_cache(missing: dict[str, set[str]], cache: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    """The cached answers, and the rest computed (in children) and cached."""
    found: dict[str, dict[str, tuple[str, ...]]] = {lang: {} for lang in missing}
    try:
        db = _open_cache(cache)
    except (OSError, sqlite3.Error) as exc:
        log.warning("inflection cache %s unusable (%s): looking words up in this process only", cache, exc)
        db = None
    try:
        if db is not None:
            for lang, words in missing.items():
                found[lang] = _cached(db, lang, words)
        fresh = inflect_many({lang: words - found[lang].keys() for lang, words in missing.items()})
        for lang, forms in fresh.items():
            found[lang].update(forms)
        if db is not None and fresh:
            try:
                with db:
                    db.executemany("INSERT OR REPLACE INTO inflections VALUES (?, ?, ?, ?)",
                                   [(LEMMATISER, lang, word, json.dumps(word_forms, ensure_ascii=False))
                                    for lang, forms in fresh.items() for word, word_forms in forms.items()])
            except sqlite3.Error as exc:
                log.warning("inflection cache %s not written (%s)", cache, exc)
    finally:
        if db is not None:
            db.close()
    return found


def _open_cache(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS inflections (lemmatiser TEXT, lang TEXT, word TEXT, forms TEXT,"
                   " PRIMARY KEY (lemmatiser, lang, word))")
    except sqlite3.Error:
        db.close()
        raise
    return db


def _cached(db: sqlite3.Connection, lang: str, words: set[str]) -> dict[str, tuple[str, ...]]:
    rows = db.execute("SELECT word, forms FROM inflections WHERE lemmatiser = ? AND lang = ?", (LEMMATISER, lang))
    return {word: tuple(json.loads(forms)) for word, forms in rows if word in words}


def inflect_many(wanted: dict[str, set[str]]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each word's inflected forms (itself included) per language, in up to two child processes."""
    jobs = {lang: (lemmatiser_language(lang), sorted(words)) for lang, words in wanted.items() if words}
    found = {lang: {word: (word,) for word in words} for lang, (code, words) in jobs.items() if code is None}
    jobs = {lang: job for lang, job in jobs.items() if job[0] is not None}
    if not jobs:
        return found
    # spawn, not fork: the caller may be a daemon with threads, and the children's
    # hundreds of megabytes go back to the system the moment they exit.
    context = multiprocessing.get_context("spawn")
    workers = min(len(jobs), 2, os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {lang: pool.submit(inflect_here, code, words) for lang, (code, words) in jobs.items()}
        found.update({lang: future.result() for lang, future in futures.items()})
    return found


def inflect_here(code: str, words: list[str]) -> dict[str, tuple[str, ...]]:
    """One language's part of :func:`inflect_many`, in this process: loads its whole dictionary."""
    import simplemma
    from simplemma.strategies.dictionaries.dictionary_factory import DefaultDictionaryFactory

    wanted: dict[str, list[str]] = {}
    forms: dict[str, set[str]] = {word: {word} for word in words}
    lemmas: dict[str, set[str]] = {word: {word.lower()} for word in words}
    for word in words:
        # The words whose lemma is the keyword itself are always its forms, even when the
        # dictionary reads the keyword as a form of another word (German "verborgen", a
        # participle of "verbergen", still finds "verborgenen").
        spellings = {word, word.lower(), word.capitalize()}
        lemma = simplemma.lemmatize(word, lang=code)
        # German "war" is a form of "sein": the forms of a lemma that shares no stem with the
        # keyword are other words, left out.
        if related(word, lemma):
            forms[word].add(lemma)
            lemmas[word].add(lemma.lower())
            spellings |= {lemma, lemma.lower(), lemma.capitalize()}
        for spelling in spellings:
            wanted.setdefault(spelling, []).append(word)
    endings = {word: _ending(word) for word in words}
    tails = tuple(set(endings.values()))
    dictionary = DefaultDictionaryFactory().get_dictionary(code)
    raw = getattr(dictionary, "_dict", None)
    if isinstance(raw, dict):  # simplemma 1.1+ keeps bytes: 5x faster than decoding every entry
        wanted_bytes = {lemma.encode(): owners for lemma, owners in wanted.items()}
        tails_bytes = tuple(tail.encode() for tail in tails)
        pairs, similar = [], []
        for surface, lemma in raw.items():
            if lemma in wanted_bytes:
                pairs.append((surface.decode(), lemma.decode()))
            if lemma.endswith(tails_bytes):
                similar.append((surface.decode(), lemma.decode()))

        def reading(form: str) -> str | None:
            found = raw.get(form.encode())
            return found.decode() if found is not None else None
    else:
        pairs = [(surface, lemma) for surface, lemma in dictionary.items() if lemma in wanted]
        similar = [(surface, lemma) for surface, lemma in dictionary.items() if lemma.endswith(tails)]
        reading = dictionary.get
    for surface, lemma in pairs:
        if related(surface, lemma):
            for word in wanted[lemma]:
                forms[word].add(surface)
    paradigms: dict[str, dict[str, set[str]]] = {}  # ending → lemma → its forms
    for surface, lemma in similar:
        for ending in (lemma.lower()[-3:], lemma.lower()[-2:]):
            paradigms.setdefault(ending, {}).setdefault(lemma, set()).add(surface)
    for word in words:
        for form, attested in by_analogy(word, paradigms.get(endings[word], {})).items():
            if form in forms[word] or form.capitalize() in forms[word]:
                continue
            known = reading(form) or reading(form.capitalize())
            if simplemma.lemmatize(form, lang=code).lower() in lemmas[word]:
                forms[word].add(form)  # the lemmatiser's own rules read it as the keyword
            elif attested and (known is None or (len(word) >= _TRUSTED and related(known, word)
                                                 and known.lower() != form.lower())):
                # A form the dictionary lacks, or reads as a form of a related word (Spanish
                # "vacunas" of the verb "vacunar"). Not a word the dictionary holds as a lemma
                # of its own (Spanish "soldada", welded, is not a soldier), and not against the
                # dictionary for a short keyword: Ukrainian "голові" would be "to the goal",
                # but is "in the head".
                forms[word].add(form)
    return {word: tuple(sorted(found)) for word, found in forms.items()}


# Forms by analogy: a change of ending is taken for a keyword when at least this many of the
# dictionary's words with the same ending, and this share of them, make it.
_ANALOGUES = 3
_SHARE = 0.3
_TRUSTED = 5  # letters a keyword needs for a guessed form to outweigh the dictionary's other reading


def _ending(word: str) -> str:
    """The letters that place a word among others of its kind (``vakcína`` → ``ína``)."""
    word = word.lower()
    return word[-3:] if len(word) >= 5 else word[-2:]


def by_analogy(word: str, paradigms: dict[str, set[str]]) -> dict[str, bool]:
    """The forms ``word`` would have if it inflected as the lemmas of ``paradigms`` do (the
    dictionary's lemmas ending as it does, each with its forms), each with whether enough of
    them (:data:`_ANALOGUES`, :data:`_SHARE`) make it.

    The dictionary lacks forms (Czech ``vakcín``, Italian ``esondazioni``) and reads
    some as another word's (Spanish ``vacunas`` as a form of the verb ``vacunar``);
    its other nouns ending in ``-ína`` or ``-one`` have those endings, so the keyword
    gets them too.
    """
    lower = word.lower()
    ending = _ending(word)
    analogues = [lemma for lemma in paradigms if lemma.lower() != lower]
    changes: dict[tuple[str, str], int] = {}
    for lemma in analogues:
        base = lemma.lower()
        made = set()
        for surface in paradigms[lemma]:
            surface = surface.lower()
            keep = len(os.path.commonprefix([base, surface]))
            if len(base) - keep <= len(ending):  # the change stays inside the shared ending
                made.add((base[keep:], surface[keep:]))
        for change in made:
            changes[change] = changes.get(change, 0) + 1
    needed = max(_ANALOGUES, _SHARE * len(analogues))
    return {lower[:len(lower) - len(old)] + new: count >= needed for (old, new), count in changes.items()
            if lower.endswith(old) and (old, new) != ("", "")}


def related(a: str, b: str) -> bool:
    """Do two spellings share a stem (half the shorter one), as inflections do?

    Keeps suppletive forms out (``went``/``go``, ``ist``/``sein``): for a topic
    rule they are other words, and would match far too much. Marks are left out
    of the comparison: a stem's vowel may take one (``Zug``/``Züge``).
    """
    a, b = fold(a), fold(b)
    if a == b:
        return True
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size >= max(2, (min(len(a), len(b)) + 1) // 2)
