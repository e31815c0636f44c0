"""Language identification on ../shared/langbench: ``python bench/language.py [--limit N]``.

Per language and on average: accuracy, undetermined and wrong answers, and
milliseconds per call, for langdetect as it comes (seeded), for lingua (all its
languages, models preloaded; ``pip install lingua-language-detector``, for
this benchmark only, skipped when missing) and for feedd's detector (default
settings, no candidates list), on single sentences and on five-sentence
paragraphs. Then the sample-size sweep behind
``language.SAMPLE_CHARS``: paragraph accuracy when only the first N characters
are looked at. A "zh" line counts zh-cn/zh-tw (langdetect) and zh-Hans/zh-Hant
(feedd) as right.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import langdetect
from langdetect import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from feedd.config import LanguageConfig
from feedd.language import detect_language

DATA = Path(__file__).resolve().parents[2] / "shared" / "langbench"


def load(kind: str, limit: int | None) -> dict[str, list[str]]:
    return {path.stem: [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
            for path in sorted((DATA / kind).glob("*.txt"))}


def plain_langdetect(text: str) -> str:
    try:
        return langdetect.detect(text)
    except LangDetectException:
        return "und"


def lingua_detector():
    """lingua over all its languages, or None when it is not installed."""
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        print("lingua not installed (pip install lingua-language-detector): its column is left out")
        return None
    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "und"

    detect("warm up")
    return detect


def same(answer: str, expected: str) -> bool:
    return answer.split("-")[0].lower() == expected


def measure(detect, corpus: dict[str, list[str]]) -> dict[str, tuple[float, float, float, float]]:
    """language -> (accuracy %, undetermined %, wrong %, ms per call)."""
    results = {}
    for lang, lines in corpus.items():
        started = time.perf_counter()
        answers = [detect(line) for line in lines]
        ms = (time.perf_counter() - started) * 1000 / len(lines)
        right = sum(same(a, lang) for a in answers)
        und = sum(a == "und" for a in answers)
        n = len(lines)
        results[lang] = (100 * right / n, 100 * und / n, 100 * (n - right - und) / n, ms)
    return results


def table(title: str, corpus, runs: dict[str, dict]) -> None:
    names = list(runs)
    print(f"\n{title} ({sum(len(v) for v in corpus.values())} texts)")
    print("| lang | n | " + " | ".join(f"{n} acc % | {n} und % | {n} wrong % | {n} ms" for n in names) + " |")
    print("|---|---|" + "---|---|---|---|" * len(names))
    for lang in corpus:
        cells = []
        for name in names:
            acc, und, wrong, ms = runs[name][lang]
            cells.append(f"{acc:.1f} | {und:.1f} | {wrong:.1f} | {ms:.2f}")
        print(f"| {lang} | {len(corpus[lang])} | " + " | ".join(cells) + " |")
    cells = []
    for name in names:
        values = list(runs[name].values())
        cells.append(" | ".join(f"{statistics.mean(v[i] for v in values):.{2 if i == 3 else 1}f}" for i in range(4)))
    print("| **mean** | | " + " | ".join(cells) + " |")
    for name in names:
        worst = min(runs[name].items(), key=lambda item: item[1][0])
        print(f"  {name}: lowest {worst[0]} {worst[1][0]:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="lines per language (default: all)")
    args = parser.parse_args()
    DetectorFactory.seed = 0
    config = LanguageConfig()
    detect_language("warm up the profiles", config)
    plain_langdetect("warm up the profiles")

    def feedd(text: str) -> str:
        return detect_language(text, config)

    others = {"langdetect": plain_langdetect}
    lingua = lingua_detector()
    if lingua is not None:
        others["lingua"] = lingua
    for kind in ("sentences", "paragraphs"):
        corpus = load(kind, args.limit)
        runs = {name: measure(detect, corpus) for name, detect in others.items()}
        runs["feedd"] = measure(feedd, corpus)
        table(kind, corpus, runs)
        for name in others:
            ratio = statistics.mean(v[3] for v in runs["feedd"].values()) / statistics.mean(
                v[3] for v in runs[name].values())
            print(f"  time per call, feedd / {name}: {ratio:.2f}x")

    print("\nsentences of 20 characters or more (shorter ones are und unless their letters decide)")
    corpus = {lang: [line for line in lines if len(line.strip()) >= 20] for lang, lines in load("sentences", args.limit).items()}
    runs = {"langdetect": measure(plain_langdetect, corpus), "feedd": measure(feedd, corpus)}
    print("| lang | n | langdetect acc % | feedd acc % |\n|---|---|---|---|")
    for lang in corpus:
        print(f"| {lang} | {len(corpus[lang])} | {runs['langdetect'][lang][0]:.1f} | {runs['feedd'][lang][0]:.2f} |")
    print(f"| **mean** | | {statistics.mean(v[0] for v in runs['langdetect'].values()):.2f} | "
          f"{statistics.mean(v[0] for v in runs['feedd'].values()):.2f} |")

    print("\ntext under 20 characters: wrong guesses (must be 0) among the first 5..19 characters of each sentence")
    corpus = load("sentences", args.limit)
    for name, detect in (*others.items(), ("feedd", feedd)):
        wrong = total = 0
        for lang, lines in corpus.items():
            for line in lines:
                for size in (5, 10, 15, 19):
                    answer = detect(line[:size])
                    total += 1
                    wrong += answer != "und" and not same(answer, lang)
        print(f"  {name}: {wrong} wrong of {total} short texts")

    print("\nsample size sweep: paragraph accuracy (%) of feedd's detector on the first N characters")
    corpus = load("paragraphs", args.limit)
    for size in (50, 100, 150, 200, 300, 400, 600):
        runs = measure(lambda text: detect_language(text[:size], config), corpus)
        values = list(runs.values())
        print(f"  N={size:4d}: mean {statistics.mean(v[0] for v in values):.2f}, "
              f"lowest {min(v[0] for v in values):.1f}, wrong {statistics.mean(v[2] for v in values):.2f}, "
              f"{statistics.mean(v[3] for v in values):.2f} ms")


if __name__ == "__main__":
    main()
