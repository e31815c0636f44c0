"""Detect a document's language (pure): langdetect, seeded, on a cleaned sample.

feedd would rather say ``und`` (undetermined) than put a document into the
wrong language feed with false confidence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .config import LanguageConfig

UNDETERMINED = "und"
SAMPLE_CHARS = 600  # enough letters to be sure; bench/language.py measures it

# langdetect's codes that BCP 47 spells otherwise.
_BCP47 = {"zh-cn": "zh-Hans", "zh-tw": "zh-Hant"}

_NOISE = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+\.\w+|<[^>\n]{0,200}>|&#?\w+;|[\d_]+", re.IGNORECASE
)

# Scripts used by one language among those langdetect knows: the script decides.
_SCRIPTS = (
    ("ja", "\u3040-\u30ff\u31f0-\u31ff"),  # kana
    ("ko", "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"),  # hangul
    ("el", "\u0370-\u03ff\u1f00-\u1fff"),
    ("he", "\u0590-\u05ff"),
    ("th", "\u0e00-\u0e7f"),
    ("ka", "\u10a0-\u10ff"),
    ("hy", "\u0530-\u058f"),
    ("bn", "\u0980-\u09ff"),
    ("pa", "\u0a00-\u0a7f"),
    ("gu", "\u0a80-\u0aff"),
    ("ta", "\u0b80-\u0bff"),
    ("te", "\u0c00-\u0c7f"),
    ("kn", "\u0c80-\u0cff"),
    ("ml", "\u0d00-\u0d7f"),
    ("si", "\u0d80-\u0dff"),
    ("lo", "\u0e80-\u0eff"),
    ("bo", "\u0f00-\u0fff"),
    ("my", "\u1000-\u109f"),
    ("km", "\u1780-\u17ff"),
)
_SCRIPT_PATTERNS = tuple((code, re.compile(f"[{chars}]")) for code, chars in _SCRIPTS)
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NON_LATIN = re.compile("[^\u0000-\u024f]")
_SCRIPT_CODES = frozenset(code for code, _ in _SCRIPTS)
_HAN_ONLY = ("zh-cn", "zh-tw")


def detect_language(text: str, config: LanguageConfig) -> str:
    """The BCP 47 code of ``text``'s language, or ``und`` when unsure."""
    sample = language_sample(text)
    letters = sum(1 for c in sample if c.isalpha())
    if letters < config.min_chars:
        return UNDETERMINED
    by_script = _script_language(sample, letters)
    if by_script in _SCRIPT_CODES:
        return by_script if not config.candidates or by_script in config.candidates else UNDETERMINED
    return _langdetect(sample, config, only=_HAN_ONLY if by_script == "zh" else None)


def language_sample(text: str, limit: int = SAMPLE_CHARS) -> str:
    """Text without URLs, addresses, markup or digits, cut to ``limit``."""
    cleaned = " ".join(_NOISE.sub(" ", text[: limit * 3]).split())
    return cleaned[:limit]


def _script_language(sample: str, letters: int) -> str | None:
    """The language the script alone decides, or ``zh`` for Han without kana or hangul."""
    if not _NON_LATIN.search(sample):
        return None
    for code, pattern in _SCRIPT_PATTERNS:
        # Japanese mixes kana with kanji: a modest share of kana decides it.
        share = 0.1 if code == "ja" else 0.5
        if len(pattern.findall(sample)) >= share * letters:
            return code
    # Modern Korean is written in hangul and Japanese in kana: Han alone is Chinese.
    if len(_HAN.findall(sample)) >= 0.5 * letters:
        return "zh"
    return None


def _langdetect(sample: str, config: LanguageConfig, only: tuple[str, ...] | None = None) -> str:
    from langdetect.lang_detect_exception import LangDetectException

    factory = _factory()
    detector = factory.create()
    detector.set_max_text_length(len(sample))
    allowed = [_langdetect_code(code) for code in config.candidates] if config.candidates else None
    if only:
        allowed = [code for code in only if allowed is None or code in allowed]
    if allowed is not None:
        prior = {code: 1.0 for code in allowed if code in factory.langlist}
        if not prior:
            return UNDETERMINED
        detector.set_prior_map(prior)
    detector.append(sample)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return UNDETERMINED
    code = _BCP47.get(best.lang, best.lang)
    if best.prob < config.threshold:
        return UNDETERMINED
    if config.candidates and code not in config.candidates:
        return UNDETERMINED
    return code


def _langdetect_code(code: str) -> str:
    reverse = {v: k for k, v in _BCP47.items()}
    return reverse.get(code, code)


def warm_up() -> None:
    """Load the detector's profiles ahead of the first document (about half a second)."""
    _factory()


@lru_cache(maxsize=1)
def _factory():
    """langdetect's profiles, loaded once, with a fixed seed for repeatable answers."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory
