"""feedd build against Pelican on the same documents: ``python bench/pelican.py [N] [--runs R]``.

Generates N documents (bench/corpus.py), writes the same articles as Pelican
Markdown (title, date, category from the folder, tags, language), installs
Pelican into its own venv (``/tmp/feedd-bench-pelican``, once), and times,
one after the other in each run, ``pelican content`` with its feeds turned on
(all, per category, per tag, per language; Atom and RSS; 50 items) and
``feedd build`` (from an empty index). Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import article_fields, generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV = Path("/tmp/feedd-bench-pelican")
CONF = """
AUTHOR = "bench"
SITENAME = "bench"
SITEURL = "http://127.0.0.1:8080"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = False
LOAD_CONTENT_CACHE = False
FEED_MAX_ITEMS = 50
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
CATEGORY_FEED_RSS = "feeds/{slug}.rss.xml"
TAG_FEED_ATOM = "feeds/tag-{slug}.atom.xml"
TAG_FEED_RSS = "feeds/tag-{slug}.rss.xml"
TRANSLATION_FEED_ATOM = "feeds/all-{lang}.atom.xml"
TRANSLATION_FEED_RSS = "feeds/all-{lang}.rss.xml"
"""


def pelican_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pelican", "markdown"], check=True)
    return VENV / "bin" / "pelican"


def to_markdown(seed: Path, seeds: Path, out: Path) -> None:
    """The same article, as Pelican metadata + Markdown body."""
    article = article_fields(seed, seeds)
    target = out / seed.relative_to(seeds).with_suffix(".md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"Title: {article['title']}\nDate: {article['day']}\nCategory: {article['category']}\n"
                      f"Tags: {', '.join(article['tags'])}\nLang: {article['lang']}\nSlug: {seed.stem}\n\n"
                      f"{article['body']}", encoding="utf-8")


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pelican = pelican_venv()
    version = subprocess.run([str(pelican), "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seeds = tmp / "corpus"
        generate(args.n, seeds)
        content = tmp / "pelican" / "content"
        for seed in seeds.rglob("*.txt"):
            to_markdown(seed, seeds, content)
        (tmp / "pelican" / "pelicanconf.py").write_text(CONF)
        times: dict[str, list[float]] = {"pelican": [], "feedd": []}
        for run in range(args.runs):
            out = tmp / "pelican" / f"output{run}"
            times["pelican"].append(timed([str(pelican), str(content), "-o", str(out), "-s",
                                           str(tmp / "pelican" / "pelicanconf.py"), "-q"]))
            root = tmp / f"feedd{run}"
            shutil.copytree(seeds, root / "seeds")
            shutil.copy(REPO / "feedd.toml", root / "feedd.toml")
            times["feedd"].append(timed([sys.executable, "-m", "feedd", "build", "--root", str(root)]))
            feeds = len(list(out.glob("feeds/*.xml")))
            ours = len(list((root / "feeds").rglob("*.atom"))) + len(list((root / "feeds").rglob("*.rss")))
            shutil.rmtree(out)
            shutil.rmtree(root)
    p, f = statistics.median(times["pelican"]), statistics.median(times["feedd"])
    print(f"{args.n:,} documents, median of {args.runs} runs, side by side ({version})")
    print(f"  pelican (Markdown, feeds: all, category, tag, language; Atom+RSS; {feeds} feed files): {p:.1f} s "
          f"{[round(t, 1) for t in times['pelican']]}")
    print(f"  feedd build (from an empty index; {ours} feed files): {f:.1f} s {[round(t, 1) for t in times['feedd']]}")
    print(f"  pelican / feedd: {p / f:.2f}x")


if __name__ == "__main__":
    main()
