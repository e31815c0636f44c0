"""Generate N seed documents from real multilingual sentences: ``python bench/corpus.py N DIR``.

Deterministic for a given --seed. Sentences come from ../shared/langbench
(the lingua project's test set, Apache-2.0), so language detection and topic
rules work on real text, not lorem ipsum.
"""

from __future__ import annotations

import argparse
import random
import re
from datetime import date, timedelta
from pathlib import Path

LANGBENCH = Path(__file__).resolve().parents[2] / "shared" / "langbench" / "sentences"
TAGS = ["Politics", "Economy", "Science", "Sport", "Culture", "Défense"]
# Words the bundled topic rules (feedd.toml) match, mixed into some documents.
KEYWORDS = ["Ukraine", "Kyiv", "drones", "climate", "energy", "Zelensky", "Kiev", "renewables"]


def drop_text(n: int, day: str, run: object = None) -> str:
    """One article as the drop benchmarks write it: French, in the Ukraine and defence topics.
    ``run`` (a run's time, say) makes its bytes new in each run: the same bytes as a file an earlier
    run deleted would be taken for that file moved back, keeping its id and key."""
    marker = "" if run is None else f" ({run})"
    return (f" date {day} Le président ukrainien Zelensky a rencontré à Kiev le ministre numéro {n}{marker} "
            "pour parler de la défense aérienne et de la production de drones.\n")


def load_sentences(folder: Path = LANGBENCH) -> dict[str, list[str]]:
    return {path.stem: [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
            for path in sorted(folder.glob("*.txt"))}


def make_document(rng: random.Random, lang: str, sentences: list[str], day: date) -> str:
    body: list[str] = []
    size = rng.randint(1000, 3000)
    while sum(len(p) for p in body) < size:
        paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 5)))
        body.append(paragraph)
    if rng.random() < 0.4:
        body[-1] += " " + " ".join(rng.sample(KEYWORDS, rng.randint(1, 3))) + "."
    text = "\n\n".join(body)
    if rng.random() < 0.25:
        tags = ", ".join(rng.sample(TAGS, rng.randint(1, 2)))
        return f"title: {body[0][:70].strip()}\ndate: {day.isoformat()}\ntags: {tags}\n\n{text}\n"
    return f" date {day.isoformat()} {text}\n"


def article_fields(seed: Path, seeds: Path) -> dict:
    """A generated seed as other generators need it: title, day, category (its folder), tags,
    language and body. Control characters (a few langbench sentences have them) are taken out:
    Pelican's feed writer stops a whole build on them, where feedd drops them."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", seed.read_text(encoding="utf-8"))
    tags: list[str] = []
    if text.startswith("title:"):
        header, _, body = text.partition("\n\n")
        fields = dict(line.split(": ", 1) for line in header.splitlines())
        day, tags = fields["date"], [t.strip() for t in fields.get("tags", "").split(",") if t.strip()]
    else:
        match = re.match(r" date (\d{4}-\d{2}-\d{2}) ", text)
        day, body = match.group(1), text[match.end():]
    rel = seed.relative_to(seeds)
    return {"title": body.strip().split(". ")[0][:100].replace("\n", " "), "day": day, "tags": tags, "body": body,
            "category": rel.parts[0] if len(rel.parts) > 1 else "misc", "lang": seed.stem.rsplit("-", 1)[1]}


def generate(n: int, out: Path, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    corpus = load_sentences()
    langs = sorted(corpus)
    start = date(2025, 11, 1)
    folders = ["", "", "", "world", "europe", "asia"]
    written = []
    for i in range(n):
        lang = langs[i % len(langs)]
        day = start + timedelta(days=rng.randrange(365))
        folder = rng.choice(folders)
        path = out / folder / f"{i:06d}-{lang}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make_document(rng, lang, corpus[lang], day), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    paths = generate(args.n, args.dir, args.seed)
    print(f"wrote {len(paths)} documents into {args.dir}")


if __name__ == "__main__":
    main()
