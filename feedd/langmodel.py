"""langdetect's model, computed with arrays.

The profiles are langdetect's own (its published n-gram frequencies for 55
languages, with its smoothing) and so is its text normalisation; what changes
is how a text is scored. langdetect draws n-grams of the text at random in a
Python loop, seven trials, and reports the share of trials each language won.
Here every known n-gram of the text counts once: a row of a float16 matrix of
log-probabilities (one row per n-gram, one column per language) is gathered
per n-gram and summed with numpy, so a text always gets the same answer. The
confidence is that of a posterior from :data:`CONFIDENCE_NGRAMS` n-grams (the
mean log-likelihood scaled to it): langdetect's trials end after a few dozen
draws, and the threshold keeps its meaning (bench/language.py: 30 gives every
language at least langdetect's accuracy, with fewer wrong answers).

The matrix is built from the profiles once per machine and kept in the user's
cache folder (10 MB, loaded in tens of milliseconds); a process holds it once,
shared with forked workers.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ALPHA = 0.5  # langdetect's smoothing, without its random jitter (±0.05): answers stay repeatable
BASE_FREQ = 10000
CONFIDENCE_NGRAMS = 30
MODEL_FORMAT = 3  # bump when the cached file's layout or contents change

_URL = re.compile(r"https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}")
_MAIL = re.compile(r"[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}")
_SPACES = re.compile(r" {2,}")
_LATIN = re.compile(r"[A-z]")  # langdetect's test: 'A' <= ch <= 'z'
# langdetect means to leave Latin Extended Additional out of this count, but compares
# a block number with a block name, so it counts every character from U+0300.
_NON_LATIN = re.compile("[\u0300-\U0010ffff]")
_VI_MARK = re.compile("[\u0300\u0301\u0303\u0309\u0323]")  # what langdetect's normalize_vi composes


@dataclass(frozen=True)
class Model:
    langs: tuple[str, ...]  # langdetect's codes, one per column
    codes: np.ndarray  # uint64, sorted: every profile n-gram as its code points packed (see :func:`gram_code`)
    # float16 (n-grams, languages): log(ALPHA / BASE_FREQ + P(n-gram | language)), summed in float64.
    # Half of float32's 19 MB, and the same answer for every one of bench/language.py's texts.
    logp: np.ndarray
    norm: np.ndarray  # uint32[0x10000]: langdetect's per-character normalisation of the BMP
    upper: np.ndarray  # bool[0x10000]: str.isupper of the BMP (a capital word's n-grams are skipped)

    def column(self, lang: str) -> int:
        return self.langs.index(lang)

    def ngrams(self, text: str) -> np.ndarray:
        """Row numbers of the text's n-grams that the profiles know (each occurrence once)."""
        wanted = self.ngram_codes(text)
        rows = np.searchsorted(self.codes, wanted)
        rows[rows >= len(self.codes)] = 0
        return rows[self.codes[rows] == wanted]

    def ngram_codes(self, text: str) -> np.ndarray:
        """langdetect's n-grams of a text (``NGram.add_char`` and ``Detector._extract_ngrams``), as codes:
        1- to 3-grams within words and at their edges, none where a capital follows a capital."""
        points = np.frombuffer(clean(text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        bmp = points < 0x10000
        points = np.where(bmp, self.norm[np.where(bmp, points, 0)], points).astype(np.uint64)
        space = points == 32
        # A space after a space (or at the start) adds nothing: langdetect's buffer is already empty.
        chars = np.concatenate(([32], points[~(space & np.concatenate(([True], space[:-1])))])).astype(np.uint64)
        if chars.size < 2:
            return np.empty(0, dtype=np.uint64)
        small = chars < 0x10000
        upper = np.where(small, self.upper[np.where(small, chars, 0).astype(np.intp)], False)
        current, previous = chars[1:], chars[:-1]
        counted = ~(upper[1:] & upper[:-1])
        before = np.concatenate(([0], chars[:-2])).astype(np.uint64)
        position = np.arange(1, chars.size)
        return np.concatenate((
            current[counted & (current != 32)],
            ((previous << np.uint64(21)) | current)[counted],
            ((before << np.uint64(42)) | (previous << np.uint64(21)) | current)[
                counted & (previous != 32) & (position >= 2)],
        ))

    def probabilities(self, rows: np.ndarray, columns: list[int]) -> np.ndarray:
        """Each of these language columns' share of the confidence, given the text's n-gram rows."""
        totals = self.logp[rows][:, columns].sum(axis=0, dtype=np.float64) * (CONFIDENCE_NGRAMS / rows.size)
        shares = np.exp(totals - totals.max())
        return shares / shares.sum()


def gram_code(gram: str) -> int:
    """An n-gram of up to three characters as one integer: 21 bits a code point, distinct for each length."""
    code = 0
    for ch in gram:
        code = (code << 21) | ord(ch)
    return code


def clean(text: str) -> str:
    """langdetect's ``Detector.append`` and ``cleaning_text``: no URLs or addresses, Vietnamese marks
    composed, runs of spaces collapsed, Latin letters dropped from mostly non-Latin text."""
    from langdetect.utils.ngram import NGram

    if "://" in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MAIL.sub(" ", text)
    if _VI_MARK.search(text):
        text = NGram.normalize_vi(text)
    text = _SPACES.sub(" ", text)
    # Counted as what the substitutions leave out: no list of matches to build.
    latin = len(text) - len(_LATIN.sub("", text))
    if latin * 2 < len(text) - len(_NON_LATIN.sub("", text)):
        text = _LATIN.sub("", text)
    return text


def cache_path() -> Path:
    """Beside the keyword inflections: systemd's CacheDirectory=, else the XDG cache folder."""
    from importlib.metadata import version  # brings the email package: only when the model loads

    from .lemmas import cache_path as inflections

    return inflections().parent / f"langdetect-{version('langdetect')}-{MODEL_FORMAT}.npz"


@lru_cache(maxsize=1)
def model() -> Model:
    """The model, from the machine's cache, or built from langdetect's profiles and cached."""
    path = cache_path()
    try:
        with np.load(path, allow_pickle=False) as data:
            return Model(tuple(str(x) for x in data["langs"]), data["codes"], data["logp"], data["norm"],
                         data["upper"])
    except (OSError, KeyError, ValueError):
        pass
    built = _from_profiles()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, langs=np.array(built.langs), codes=built.codes, logp=built.logp, norm=built.norm,
                     upper=built.upper)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("language model not cached at %s (%s): built again by the next process", path, exc)
    return built


def _from_profiles() -> Model:
    """langdetect's profiles as it reads them (P = frequency / n-grams of that length)."""
    import json

    from langdetect.detector_factory import PROFILES_DIRECTORY
    from langdetect.utils.ngram import NGram

    profiles = []
    for name in sorted(os.listdir(PROFILES_DIRECTORY)):
        file = Path(PROFILES_DIRECTORY) / name
        if name.startswith(".") or not file.is_file():
            continue
        profile = json.loads(file.read_text(encoding="utf-8"))
        profiles.append((profile["name"], profile["freq"], profile["n_words"]))
    langs = tuple(name for name, _, _ in profiles)
    grams = sorted({gram for _, freq, _ in profiles for gram in freq if 1 <= len(gram) <= 3}, key=gram_code)
    row = {gram: n for n, gram in enumerate(grams)}
    probability = np.zeros((len(grams), len(langs)), dtype=np.float64)
    for column, (_, freq, n_words) in enumerate(profiles):
        for gram, count in freq.items():
            if 1 <= len(gram) <= 3:
                probability[row[gram], column] = count / n_words[len(gram) - 1]
    logp = np.log(ALPHA / BASE_FREQ + probability).astype(np.float16)
    characters = [chr(cp) for cp in range(0x10000)]
    norm = np.array([ord(NGram.normalize(ch)) for ch in characters], dtype=np.uint32)
    upper = np.array([ch.isupper() for ch in characters], dtype=bool)
    codes = np.array([gram_code(gram) for gram in grams], dtype=np.uint64)
    return Model(langs, codes, logp, norm, upper)
