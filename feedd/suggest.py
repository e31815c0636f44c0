"""Key phrases no topic rule covers yet, per language: help for writing rules.

YAKE scores the key phrases of each document on its own (no corpus model to
train, and stopword lists for 30+ languages); a phrase that is key in many
documents of a language is characteristic of what the site publishes.
Phrases a rule already matches are dropped, so what is left is what the
rules miss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .config import TopicRule
from .topics import Forms, Matcher, Text

PER_DOCUMENT = 10  # key phrases taken from each document
# YAKE's stopword files, by the BCP 47 codes feedd reports.
_YAKE_CODES = {"cs": "cz", "zh-Hans": "zh", "zh-Hant": "zh"}


@dataclass(frozen=True)
class Suggestion:
    phrase: str
    documents: int  # documents in which it is a key phrase
    score: float  # YAKE's, lower is more characteristic; the best over those documents


def suggest(texts: Iterable[str], lang: str, rules: Iterable[TopicRule], forms: Forms,
            top: int = 15) -> list[Suggestion]:
    """The key phrases of ``texts`` (all in ``lang``) that no rule matches, most shared first."""
    import yake  # numpy and friends: only for this command, never in the daemon

    extractor = yake.KeywordExtractor(lan=_YAKE_CODES.get(lang, lang.split("-")[0]), n=3, top=PER_DOCUMENT)
    matcher = Matcher(rules, lang, forms)  # compiled once for every phrase
    seen: dict[str, list] = defaultdict(lambda: [None, 0, float("inf")])  # folded → [phrase, documents, score]
    for text in texts:
        for phrase, score in extractor.extract_keywords(text):
            entry = seen[" ".join(Text(phrase).folded)]
            entry[0] = entry[0] or phrase
            entry[1] += 1
            entry[2] = min(entry[2], float(score))
    ranked = sorted(seen.items(), key=lambda item: (-item[1][1], item[1][2], item[0]))
    found: list[Suggestion] = []
    for folded, (phrase, documents, score) in ranked:
        if not folded or folded.replace(" ", "").isdigit() or matcher.match("", phrase):
            continue
        found.append(Suggestion(phrase, documents, score))
        if len(found) == top:
            break
    return found


def supported(lang: str) -> bool:
    """YAKE splits words on spaces: no use for Chinese, Japanese or Thai text."""
    return lang != "und" and lang.split("-")[0] not in {"zh", "ja", "th", "lo", "my", "km"}


def suggest_all(documents: Iterable[tuple[str, str]], rules: Iterable[TopicRule],
                forms_for: Callable[[str], Forms], top: int = 15) -> dict[str, list[Suggestion]]:
    """:func:`suggest` for each language of ``(lang, text)`` pairs."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, text in documents:
        by_lang[lang].append(text)
    rules = tuple(rules)
    return {lang: suggest(texts, lang, rules, forms_for(lang), top)
            for lang, texts in sorted(by_lang.items()) if supported(lang)}

