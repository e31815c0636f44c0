"""A restart, then a drop: ``python bench/restart.py PROJECT [--runs R]``.

On a built project (``feedd build``), R times each, alternated: ``feedd run``
launched, and once it serves, one file dropped into ``seeds/``; the time until
it serves, and until the dropped file is in its topic feed. "everything": the
index says a publish is owed (as after a crash), so the start-up publishes
every feed and page before it reads the drop; "what changed": the last run
settled, so it publishes only what changed while it was down.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import drop_text  # noqa: E402
from latency import start  # noqa: E402

from feedd.config import load_config  # noqa: E402
from feedd.document import document_key  # noqa: E402
from feedd.index import Index  # noqa: E402
from feedd.publish import owe  # noqa: E402


def once(root: Path, owed: bool, n: int) -> tuple[float, float]:
    if owed:
        with Index(load_config(root).index_path) as index:
            owe(index)
    launched = time.perf_counter()
    proc, port = start(root)
    try:
        serving = time.perf_counter() - launched
        relpath = f"restart/{n:05d}.txt"
        (root / "seeds" / "restart").mkdir(exist_ok=True)
        (root / "seeds" / relpath).write_text(drop_text(n, "2026-11-29"), encoding="utf-8")
        dropped, key = time.perf_counter(), document_key(relpath, None).encode()
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", "/topics/ukraine.atom")
            if key in conn.getresponse().read():
                break
            conn.close()
            time.sleep(0.05)
        return serving, time.perf_counter() - dropped
    finally:
        proc.terminate()
        proc.wait()
        (root / "seeds" / f"restart/{n:05d}.txt").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"everything": [], "what changed": []}
    n = time.time_ns() % 10**5  # file names no earlier run used
    for _ in range(args.runs):
        for name in results:
            n += 1
            results[name].append(once(args.project, name == "everything", n))
    for name, runs in results.items():
        print(f"{name}: serving after {statistics.median(s for s, _ in runs):.2f} s, the first drop served "
              f"{statistics.median(d for _, d in runs):.2f} s after it was written "
              f"(median of {len(runs)}: {', '.join(f'{d:.2f}' for _, d in runs)})")


if __name__ == "__main__":
    main()
