"""RFC 5005 archives at size: ``python bench/archive.py [N] [--runs R]``.

Builds N generated documents (default 10,000) from an empty index with
archives off (``archive_page_size = 0``) and on (the default, 100), R times
each, alternating, and reports the median wall times and their ratio; then
walks ``prev-archive`` from every current Atom feed of the last build and
counts what it visits against what the index says each feed holds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import timed_build  # noqa: E402
from corpus import generate  # noqa: E402

from feedd.config import load_config  # noqa: E402
from feedd.index import Index  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"


def walk(feeds: Path, base: str, name: str) -> tuple[list[str], int]:
    """Entry ids from ``name``.atom back through its archive pages, and how many pages."""
    path, ids, pages = feeds / f"{name}.atom", [], 0
    while True:
        root = etree.parse(str(path)).getroot()
        ids += [entry.findtext(f"{ATOM}id") for entry in root.findall(f"{ATOM}entry")]
        previous = next((link.get("href") for link in root.findall(f"{ATOM}link")
                         if link.get("rel") == "prev-archive"), None)
        if previous is None:
            return ids, pages
        path, pages = feeds / previous[len(base):], pages + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"off": [], "on": []}
    peak = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        generate(args.n, corpus)
        for run in range(args.runs):
            for mode in ("off", "on"):
                root = Path(tmp) / f"{mode}{run}"
                shutil.copytree(corpus, root / "seeds")
                toml = (REPO / "feedd.toml").read_text()
                if mode == "off":
                    toml = toml.replace("[feeds]\n", "[feeds]\narchive_page_size = 0\n", 1)
                (root / "feedd.toml").write_text(toml)
                seconds, peak = timed_build(root)  # the largest child so far: an "on" build, runs being alike
                times[mode].append(seconds)
                if run < args.runs - 1 or mode == "off":
                    shutil.rmtree(root)
        print(f"feedd build, {args.n} documents, {args.runs} runs each from an empty index")
        off, on = statistics.median(times["off"]), statistics.median(times["on"])
        print(f"  archives off: median {off:.2f} s; on: median {on:.2f} s; on/off {on / off:.2f}x;"
              f" peak RSS of the largest build {peak:.0f} MB")
        config = load_config(root)
        with Index(config.index_path) as index:
            expected = {feed.name: {doc.id for doc in index.latest(feed, datetime.now(timezone.utc), 10**9)}
                        for feed in index.feeds()}
        pages_on_disk = len(list(config.feeds_dir.rglob("archive/*.atom")))
        total_visits = total_pages = 0
        bad = []
        for name, ids in sorted(expected.items()):
            seen, pages = walk(config.feeds_dir, config.site.base_url, name)
            total_visits += len(seen)
            total_pages += pages
            if len(seen) != len(set(seen)) or set(seen) != ids:
                bad.append(name)
        print(f"  walked {len(expected)} feeds: {total_visits} entries on {total_pages} archive pages"
              f" ({pages_on_disk} on disk) plus the current documents;"
              f" every document of every feed exactly once: {'yes' if not bad else 'NO: ' + ', '.join(bad)}")
        all_seen, all_pages = walk(config.feeds_dir, config.site.base_url, "all")
        print(f"  all.atom: {len(all_seen)} entries ({len(set(all_seen))} distinct) over the current feed"
              f" and {all_pages} archive pages; the index holds {len(expected['all'])}")


if __name__ == "__main__":
    main()
