"""Topic rules on a corpus of our own: ``python bench/topics.py [--corpus FILE] [--rules FILE] [-v]``.

Each article of ``bench/topics/corpus.toml`` goes through feedd's own reading
of a seed file (the canonical `` date YYYY-MM-DD `` header, language
detection, topic rules from ``bench/topics/feedd.toml``) and its topics are
compared with the exact set a reader gives it. Per language and in total:
exact-set accuracy, precision and recall over (article, topic) pairs, traps
passed, the intended inflected keyword forms matched against missed (each
form alone, in the article's language), and texts placed in another
language. Then the cost: tagging time per document (the rules compiled once
per language, as a build does) and the inflection lookup of the rules' words
(cached per machine: ``--cold`` uses an empty cache). ``--bare`` drops the
rules' ``ignore`` and ``forms`` tables, to show what the traps do without them;
``--corpus bench/topics/heldout.toml`` runs articles written after the rules
were settled.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from feedd.config import load_config
from feedd.reconcile import analyse, matcher, read, tag
from feedd.topics import Matcher

HERE = Path(__file__).resolve().parent / "topics"
DATE = "2026-11-28"


def seed(text: str) -> bytes:
    return f" date {DATE} {text}\n".encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus.toml")
    parser.add_argument("--rules", type=Path, default=HERE / "feedd.toml")
    parser.add_argument("--cold", action="store_true", help="look the rules' inflections up in an empty cache")
    parser.add_argument("--bare", action="store_true",
                        help="the rules without their ignore and forms tables: what the traps do to keywords alone")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every article that failed")
    args = parser.parse_args()

    articles = tomllib.loads(args.corpus.read_text(encoding="utf-8"))["article"]
    with tempfile.TemporaryDirectory(prefix="feedd-topics-") as tmp:
        root = Path(tmp)
        (root / "feedd.toml").write_bytes(args.rules.read_bytes())
        if args.cold:
            os.environ["XDG_CACHE_HOME"] = str(root / "cache")
        config = load_config(root)
        if args.bare:
            config = replace(config, topics=tuple(replace(rule, ignore=(), forms=()) for rule in config.topics))
        langs = sorted({a["lang"] for a in articles})

        started = time.perf_counter()
        matchers = {lang: matcher(config, lang) for lang in langs}
        lookup_seconds = time.perf_counter() - started

        rows: dict[str, dict] = defaultdict(lambda: defaultdict(int))
        failures: list[str] = []
        missed_forms: list[str] = []
        for n, article in enumerate(articles):
            lang, expected = article["lang"], set(article["topics"])
            analysis, _ = analyse(seed(article["text"]), f"{n}.txt", config)
            got = {topic.slug for topic in analysis.topics}
            row = rows[lang]
            row["n"] += 1
            row["traps"] += "trap" in article
            row["exact"] += got == expected
            row["traps passed"] += "trap" in article and got == expected
            row["tp"] += len(got & expected)
            row["fp"] += len(got - expected)
            row["fn"] += len(expected - got)
            row["other language"] += analysis.lang.split("-")[0] != lang
            if got != expected:
                why = f" (read as {analysis.lang})" if analysis.lang.split("-")[0] != lang else ""
                failures.append(f"{lang}: got {sorted(got)}, want {sorted(expected)}{why}: "
                                f"{article.get('trap', '')} {article['text'][:70]!r}")
            for form in article.get("forms", ()):
                hits = {match.rule.slug for match in matchers[lang].match("", form) if match.applies}
                row["forms"] += 1
                if hits & expected:
                    row["forms matched"] += 1
                else:
                    missed_forms.append(f"{lang}: {form!r} ({', '.join(sorted(expected))})")

        # Tagging cost per document: the rules already compiled for the language, as a build has them.
        parsed = [(read(seed(a["text"]), f"{n}.txt", config), f"{n}.txt")
                  for n, a in enumerate(articles)]
        runs = []
        for _ in range(25):
            started = time.perf_counter()
            for (doc, lang), path in parsed:
                tag(doc, lang, path, config, matchers.get(lang.split("-")[0]) or Matcher(config.topics, lang, {}))
            runs.append((time.perf_counter() - started) / len(parsed))

    total: dict[str, int] = defaultdict(int)
    print(f"topic rules on {args.corpus.name}: {len(articles)} articles "
          f"({sum('trap' in a for a in articles)} traps), {len(langs)} languages\n")
    print("| lang | n | traps | exact % | precision | recall | traps passed | forms matched | other language |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lang in langs + ["all"]:
        row = total if lang == "all" else rows[lang]
        if lang != "all":
            for key, value in row.items():
                total[key] += value
        print(f"| {lang} | {row['n']} | {row['traps']} | {100 * row['exact'] / row['n']:.1f} | "
              f"{ratio(row['tp'], row['tp'] + row['fp'])} | {ratio(row['tp'], row['tp'] + row['fn'])} | "
              f"{row['traps passed']}/{row['traps']} | {row['forms matched']}/{row['forms']} | {row['other language']} |")
    print(f"\ntagging: {1000 * statistics.median(runs):.3f} ms a document (median of 25 passes); "
          f"inflections of the rules' {sum(len(m.forms) for m in matchers.values())} words in {len(langs)} languages "
          f"looked up in {lookup_seconds:.2f} s ({'empty cache' if args.cold else 'this machine’s cache'})")
    if missed_forms:
        print(f"\n{len(missed_forms)} intended forms missed:")
        print("\n".join(f"  {line}" for line in missed_forms))
    if failures:
        print(f"\n{len(failures)} articles with other topics than wanted:")
        print("\n".join(f"  {line}" for line in (failures if args.verbose else failures[:20])))
    return 0 if not failures and not missed_forms else 1


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "—"


if __name__ == "__main__":
    sys.exit(main())
