"""Detect a document's language (pure): langdetect's model, on a cleaned sample.

langdetect's profiles and method stay the engine (computed with arrays, from a
fixed seed: :mod:`feedd.langmodel`); feedd narrows the question before asking it:

1. a script used by one language decides alone (kana: Japanese, hangul:
   Korean, Greek, Hebrew, Thai, …);
2. otherwise langdetect may only answer with a language written in the
   text's script (Han without kana is Chinese, never Korean);
3. letters a language never uses rule it out when the text is unambiguous
   (Russian has no "ї", Ukrainian no "ы"; Swedish "ä" is not Danish "æ", …);
4. ``und`` (undetermined) when the text is too short or the best probability
   is below the threshold: feedd would rather not say than put a document
   into the wrong language feed.

``bench/language.py`` measures all of it on public test data.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import langmodel
from .config import LanguageConfig
from .model import UNDETERMINED

# Enough letters to be sure: paragraph accuracy stops improving at 400
# characters (bench/language.py, "sample size sweep"); the margin is cheap.
SAMPLE_CHARS = 600
# Under this many characters even a script-decided answer is not given.
MIN_SCRIPT_CHARS = 2
# An orthographic cue must occur once per this many letters to rule languages out.
CUE_EVERY = 100
# A language with at least this share of the confidence is a contender.
CONTENDER_SHARE = 0.05
_WORDS = re.compile(r"\w+")
# Han characters carry a word or more each: this many, with no kana, are Chinese.
MIN_HAN_CHARS = 8

# langdetect's codes that BCP 47 spells otherwise.
_BCP47 = {"zh-cn": "zh-Hans", "zh-tw": "zh-Hant"}

_NOISE = re.compile(r"https?://\S+|www\.\S+|<[^>\n]{0,200}>|&#?\w+;|[\d_]+", re.IGNORECASE)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.\w+")  # apart: trying it at every position is slow

# Scripts used by one language among those langdetect knows: the script decides.
_DECIDING_SCRIPTS = (
    ("ja", "\u3040-\u30ff\u31f0-\u31ff"),  # kana: never in Chinese text
    ("ko", "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"),  # hangul
    ("el", "\u0370-\u03ff\u1f00-\u1fff"),
    ("he", "\u0590-\u05ff"),
    ("th", "\u0e00-\u0e7f"),
    ("bn", "\u0980-\u09ff"),
    ("pa", "\u0a00-\u0a7f"),
    ("gu", "\u0a80-\u0aff"),
    ("ta", "\u0b80-\u0bff"),
    ("te", "\u0c00-\u0c7f"),
    ("kn", "\u0c80-\u0cff"),
    ("ml", "\u0d00-\u0d7f"),
)
# Scripts shared by several languages: langdetect chooses among these only.
_SHARED_SCRIPTS = (
    ("latin", "A-Za-z\u00c0-\u024f\u1e00-\u1eff", (
        "af", "ca", "cs", "cy", "da", "de", "en", "es", "et", "fi", "fr", "hr", "hu", "id", "it", "lt", "lv",
        "nl", "no", "pl", "pt", "ro", "sk", "sl", "so", "sq", "sv", "sw", "tl", "tr", "vi")),
    ("cyrillic", "\u0400-\u04ff", ("bg", "mk", "ru", "uk")),
    ("arabic", "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff", ("ar", "fa", "ur")),
    ("devanagari", "\u0900-\u097f", ("hi", "mr", "ne")),
    ("han", "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff", ("zh-cn", "zh-tw")),
)
_HAN_LANGUAGES = ("zh-cn", "zh-tw")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Base rates: a close relative of a far more published language wins a short,
# ambiguous text less often than langdetect's flat prior lets it. Enough
# evidence still wins; a site that publishes in one of these lists it in
# [language] candidates, which replaces the priors.
_PRIOR = {"af": 0.2, "bg": 0.3, "mk": 0.2, "ca": 0.4, "da": 0.4, "no": 0.4, "gl": 0.4, "sq": 0.5, "so": 0.3,
          "tl": 0.3, "sw": 0.4, "cy": 0.4, "et": 0.5, "lt": 0.5, "lv": 0.5, "sl": 0.5, "hr": 0.5, "sk": 0.5}
_DECIDING = tuple((code, re.compile(f"[{chars}]")) for code, chars in _DECIDING_SCRIPTS)
_SHARED = tuple((name, re.compile(f"[{chars}]"), langs) for name, chars, langs in _SHARED_SCRIPTS)

# Letters that rule languages out, as (cue, its rival cue, languages ruled out).
# A cue counts only when its rival is absent: a Russian text quoting "Київ"
# still has its "ы", and is left to the detector.
# (No IGNORECASE: with it Python matches "i" against the Turkish dotless "ı".)
_ORTHOGRAPHY = tuple(
    (re.compile(cue), re.compile(rival), frozenset(out))
    for cue, rival, out in (
        ("[ыэёЫЭЁ]", "[іїєґІЇЄҐ]", ("bg", "mk", "uk")),  # only Russian
        ("[іїєґІЇЄҐ]", "[ыэёЫЭЁ]", ("bg", "mk", "ru")),  # only Ukrainian
        ("[ѓќѕљњџјЃЌЅЉЊЏЈ]", "[ыэёіїєґЫЭЁІЇЄҐ]", ("bg", "ru", "uk")),  # only Macedonian
        ("[äöÄÖ]", "[æøÆØ]", ("da", "no")),  # Swedish, Finnish, German… not Danish or Norwegian
        ("[æøÆØ]", "[äöÄÖ]", ("sv", "fi", "de", "et")),
        ("[ãõÃÕ]", "[ñÑ¿¡]", ("es", "ca", "it")),  # Portuguese nasal vowels
        ("[ñÑ¿¡]", "[ãõÃÕ]", ("pt",)),
        ("[ğıĞ]", "(?!)", ("ca", "cs", "da", "de", "en", "es", "fr", "it", "nl", "pt", "ro", "sq", "sv")),
        ("ij|IJ", "[êëô]|'n ", ("af",)),  # Dutch writes "ij" where Afrikaans writes "y"
        ("[ةى]", "[پچژگڈڑںےٹ]", ("fa", "ur")),  # Arabic ta marbuta and alif maqsura
        ("[پچژگ]", "[ةىٹڈڑںے]", ("ar", "ur")),  # Persian letters, without Urdu's
        ("[ٹڈڑںے]", "[ةى]", ("ar", "fa")),  # only Urdu
    )
)


def detect_language(text: str, config: LanguageConfig) -> str:
    """The BCP 47 code of ``text``'s language, or ``und`` when unsure."""
    sample = language_sample(text)
    letters = sum(map(str.isalpha, sample))
    if letters < MIN_SCRIPT_CHARS:
        return UNDETERMINED
    for code, pattern in _DECIDING:
        found = len(pattern.findall(sample))
        if code == "ja":
            # Japanese mixes kana with kanji, and Chinese never writes kana: in
            # text that is mostly kana and Han, one kana decides.
            decides = found >= 1 and found + len(_HAN.findall(sample)) >= 0.5 * letters
        else:
            decides = found >= max(MIN_SCRIPT_CHARS, 0.5 * letters)
        if decides:
            return code if _allowed(code, config) else UNDETERMINED
    candidates = _candidates(sample, letters)
    if len(text.strip()) < config.min_chars or letters < config.min_chars // 2:
        # Too short for statistics: answer only what the letters alone prove
        # (one candidate left), or for enough Han characters.
        if len(candidates) == 1 and letters >= MIN_SCRIPT_CHARS * 2:
            return _BCP47.get(candidates[0], candidates[0]) if _allowed(candidates[0], config) else UNDETERMINED
        if not (candidates == list(_HAN_LANGUAGES) and letters >= MIN_HAN_CHARS):
            return UNDETERMINED
    if config.candidates:
        wanted = {_langdetect_code(code) for code in config.candidates}
        candidates = [code for code in candidates if code in wanted or code.split("-")[0] in wanted]
    if not candidates:
        return UNDETERMINED
    return _langdetect(sample, candidates, config.threshold)


def language_sample(text: str, limit: int = SAMPLE_CHARS) -> str:
    """Text without URLs, addresses, markup or digits, cut to ``limit``."""
    head = text[: limit * 3]
    if "@" in head:
        head = _EMAIL.sub(" ", head)
    cleaned = " ".join(_NOISE.sub(" ", head).split())
    return cleaned[:limit]


def _candidates(sample: str, letters: int) -> list[str]:
    """langdetect codes the text may be in: its script's languages, less those its letters rule out."""
    counts = [(len(pattern.findall(sample)), langs) for _, pattern, langs in _SHARED]
    count, langs = max(counts, key=lambda item: item[0])
    if count < 0.5 * letters:
        return list(langmodel.model().langs)  # mixed scripts: let every language be weighed
    ruled_out: set[str] = set()
    # In a long text one foreign name ("Altıparmak" in Dutch) is not a cue:
    # a language's own letters recur, once per 100 letters at the least.
    needed = max(1, letters // CUE_EVERY)
    for cue, rival, out in _ORTHOGRAPHY:
        if len(cue.findall(sample)) >= needed and not rival.search(sample):
            ruled_out |= out
    return [code for code in langs if code not in ruled_out]


def _langdetect(sample: str, candidates: list[str], threshold: float) -> str:
    model = langmodel.model()
    known = [code for code in candidates if code in model.langs]
    if not known:
        return UNDETERMINED
    if len(known) == 1 and known[0] not in _BCP47:
        return known[0]
    rows = model.ngrams(sample)
    if not rows.size:
        return UNDETERMINED  # no n-gram the profiles know
    shares = model.probabilities(rows, [model.column(code) for code in known])
    # As langdetect reports them: languages above a tenth, the likeliest first.
    ranked = sorted(((share, code) for code, share in zip(known, shares.tolist()) if share > 0.1), reverse=True)
    if not ranked:
        return UNDETERMINED
    # Weigh the shares by the base rates and renormalise.
    scores: dict[str, float] = {}
    for share, lang in ranked:
        code = "zh" if lang in _BCP47 else lang  # the variants share the confidence
        scores[code] = scores.get(code, 0.0) + share * _PRIOR.get(lang, 1.0)
    _weigh_function_words(sample, scores)
    total = sum(scores.values())
    if not total:
        return UNDETERMINED
    best, score = max(scores.items(), key=lambda item: item[1])
    if score / total < threshold:
        return UNDETERMINED
    return _BCP47[ranked[0][1]] if best == "zh" else best


def _weigh_function_words(sample: str, scores: dict[str, float]) -> None:
    """Close relatives split the confidence; words only one of them uses settle it.

    Counts the words of the text that are function words (stopwords) of one
    contender and of no other, and multiplies each contender's score by
    (1 + that count) cubed. Character n-grams blur "och" and "og"; words do not.
    """
    total = sum(scores.values())
    contenders = [code for code, score in scores.items() if total and score / total >= CONTENDER_SHARE]
    if len(contenders) < 2:
        return
    lists = {code: _function_words(code) for code in contenders}
    words = set(_WORDS.findall(sample.lower()))
    for code in contenders:
        others = frozenset().union(*(lists[other] for other in contenders if other != code))
        hits = len(words & (lists[code] - others))
        scores[code] *= (1 + hits) ** 3


@lru_cache(maxsize=64)
def _function_words(code: str) -> frozenset[str]:
    """YAKE's stopword list for a langdetect code (empty if it has none).

    Read from the package's files without importing yake, which would bring
    numpy and networkx into the daemon for a word list.
    """
    from importlib.util import find_spec
    from pathlib import Path

    name = {"cs": "cz"}.get(code, code)
    spec = find_spec("yake")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    try:
        data = (Path(spec.submodule_search_locations[0]) / "core" / "StopwordsList" / f"stopwords_{name}.txt").read_bytes()
    except OSError:
        return frozenset()
    text = data.decode("utf-8", "replace")
    return frozenset(word.strip().lower() for word in text.splitlines() if word.strip())


def _allowed(code: str, config: LanguageConfig) -> bool:
    return not config.candidates or code in config.candidates


def _langdetect_code(code: str) -> str:
    reverse = {v: k for k, v in _BCP47.items()}
    return reverse.get(code, code)


def warm_up() -> None:
    """Load the language model ahead of the first document."""
    langmodel.model()
