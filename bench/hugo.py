"""feedd build against Hugo on the same documents: ``python bench/hugo.py [N] [--runs R]``.

Generates N documents (bench/corpus.py), writes the same articles as Hugo
content (Markdown with YAML front matter: title, date, category from the
folder, tags), and times, one after the other in each run, ``hugo`` (Debian's
package: ``apt-get install hugo``) building HTML for every article plus RSS for
the home page, every category and every tag (50 items each), and ``feedd
build`` from an empty index (archives on, as configured by the bundled
feedd.toml). Prints medians and the ratio. Hugo detects no language and
matches no inflected keyword; it is the anchor for speed only.
"""

from __future__ import annotations

import argparse
import json
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
CONFIG = """
baseURL = "http://127.0.0.1:8080/"
title = "bench"
languageCode = "en"
rssLimit = 50
disableKinds = ["sitemap", "robotsTXT", "404"]
[taxonomies]
category = "categories"
tag = "tags"
[outputs]
home = ["HTML", "RSS"]
section = ["HTML", "RSS"]
taxonomy = ["HTML", "RSS"]
term = ["HTML", "RSS"]
"""
# Minimal templates: an article page and a list page (Hugo's own RSS template makes the feeds).
SINGLE = """<!doctype html><html lang="{{ .Site.LanguageCode }}"><head><meta charset="utf-8"><title>{{ .Title }}</title>
{{ range .AlternativeOutputFormats }}<link rel="{{ .Rel }}" type="{{ .MediaType.Type }}" href="{{ .Permalink }}">{{ end }}
</head><body><article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2006-01-02" }}</time>{{ .Content }}</article></body></html>
"""
LIST = """<!doctype html><html><head><meta charset="utf-8"><title>{{ .Title }}</title>
{{ range .AlternativeOutputFormats }}<link rel="{{ .Rel }}" type="{{ .MediaType.Type }}" href="{{ .Permalink }}">{{ end }}
</head><body><h1>{{ .Title }}</h1><ol>{{ range first 50 .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ol></body></html>
"""


def to_hugo(seed: Path, seeds: Path, content: Path) -> None:
    """The same article as Hugo content: front matter and the body as Markdown."""
    article = article_fields(seed, seeds)
    target = content / "posts" / f"{seed.stem}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    front = {"title": article["title"], "date": article["day"], "categories": [article["category"]],
             "tags": article["tags"], "slug": seed.stem}
    target.write_text("---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in front.items())
                      + "---\n\n" + article["body"], encoding="utf-8")


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def find_hugo() -> tuple[str, str]:
    """Debian's ``hugo`` and its version."""
    hugo = shutil.which("hugo")
    if hugo is None:
        raise SystemExit("hugo is not installed: apt-get install hugo")
    answer = subprocess.run([hugo, "version"], capture_output=True, text=True, check=True)
    return hugo, answer.stdout.strip().split(" ")[1]


def hugo_site(seeds: Path, site: Path) -> None:
    """The articles under ``seeds`` as a Hugo site: content, configuration, templates."""
    for seed in seeds.rglob("*.txt"):
        to_hugo(seed, seeds, site / "content")
    (site / "config.toml").write_text(CONFIG)
    (site / "layouts" / "_default").mkdir(parents=True, exist_ok=True)
    for name, template in (("single.html", SINGLE), ("list.html", LIST)):
        (site / "layouts" / "_default" / name).write_text(template)


def timed_feedd_build(seeds: Path, root: Path) -> float:
    """``feedd build`` of a copy of ``seeds`` in ``root``, from an empty index, the bundled feedd.toml."""
    shutil.copytree(seeds, root / "seeds")
    shutil.copy(REPO / "feedd.toml", root / "feedd.toml")
    return timed([sys.executable, "-m", "feedd", "build", "--root", str(root)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    hugo, version = find_hugo()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seeds = tmp / "corpus"
        generate(args.n, seeds)
        site = tmp / "hugo"
        hugo_site(seeds, site)
        times: dict[str, list[float]] = {"hugo": [], "feedd": []}
        for run in range(args.runs):
            out = tmp / f"public{run}"
            times["hugo"].append(timed([hugo, "--source", str(site), "--destination", str(out), "--quiet"]))
            root = tmp / f"feedd{run}"
            times["feedd"].append(timed_feedd_build(seeds, root))
            theirs = len(list(out.rglob("*.xml")))
            pages = len(list(out.rglob("*.html")))
            ours = len(list((root / "feeds").rglob("*.atom"))) + len(list((root / "feeds").rglob("*.rss")))
            ours_json = len(list((root / "feeds").rglob("*.json")))
            shutil.rmtree(out)
            shutil.rmtree(root)
    h, f = statistics.median(times["hugo"]), statistics.median(times["feedd"])
    print(f"{args.n:,} documents, median of {args.runs} runs, side by side (hugo {version})")
    print(f"  hugo (RSS for home, categories, tags; {theirs} RSS files, {pages} HTML pages): {h:.1f} s "
          f"{[round(t, 1) for t in times['hugo']]}")
    print(f"  feedd build (from an empty index, archives on; {ours} Atom/RSS files, {ours_json} JSON Feeds): "
          f"{f:.1f} s {[round(t, 1) for t in times['feedd']]}")
    print(f"  feedd / hugo: {f / h:.2f}x")


if __name__ == "__main__":
    main()
