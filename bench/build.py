"""Time ``feedd build`` on a generated corpus: ``python bench/build.py [N] [--runs R]``.

Each run builds from an empty index and empty feeds/ into a fresh folder, in a
subprocess (so start-up counts, as for a user), and reports the median wall
time and peak resident memory; then one more build with nothing changed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def timed_build(root: Path) -> tuple[float, float]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(root)], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        generate(args.n, corpus)
        cold = []
        for run in range(args.runs):
            root = Path(tmp) / f"run{run}"
            shutil.copytree(corpus, root / "seeds")
            shutil.copy(REPO / "feedd.toml", root / "feedd.toml")
            cold.append(timed_build(root))
        warm = timed_build(root)
    times = [s for s, _ in cold]
    print(f"feedd build, {args.n} documents, {args.runs} runs from an empty index")
    print(f"  median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f}); "
          f"{args.n / statistics.median(times):.0f} documents/s")
    print(f"  peak RSS of the largest child: {max(m for _, m in cold):.0f} MB")
    print(f"  rebuild with nothing changed: {warm[0]:.2f} s")


if __name__ == "__main__":
    main()
