"""Drop-to-served latency of a running daemon: ``python bench/latency.py [--files N] [--indexed M]``.

Starts ``feedd run`` on a temporary project (optionally with M documents
already indexed), then drops N files one at a time into seeds/ and measures,
for each, the time from the file's close to its entry being served over HTTP
in its topic feed. Prints p50, p95 and max.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import drop_text, generate  # noqa: E402

from feedd.document import document_key  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def start(root: Path) -> tuple[subprocess.Popen, int]:
    log = open(root / "daemon.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "feedd", "run", "--root", str(root), "--port", "0"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        match = re.search(r"serving http://127\.0\.0\.1:(\d+)/", (root / "daemon.log").read_text())
        if match:
            return proc, int(match.group(1))
        if proc.poll() is not None:
            raise SystemExit((root / "daemon.log").read_text())
        time.sleep(0.05)
    raise SystemExit("the daemon did not start")


def wait_for_line(log: Path, pattern: str, seconds: float) -> None:
    """Until the daemon's log holds a line matching ``pattern`` (a regular expression)."""
    deadline = time.monotonic() + seconds
    while not (log.exists() and re.search(pattern, log.read_text())):
        if time.monotonic() > deadline:
            raise SystemExit(f"no {pattern!r} in {log} after {seconds:.0f} s")
        time.sleep(0.05)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--indexed", type=int, default=0, help="documents in the index before the drops")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(REPO / "feedd.toml", root / "feedd.toml")
        (root / "seeds").mkdir()
        if args.indexed:
            generate(args.indexed, root / "seeds" / "corpus")
            subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(root)], check=True,
                           stdout=subprocess.DEVNULL)
        proc, port = start(root)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies = []
        try:
            for n in range(args.files):
                relpath = f"drop/{n:05d}.txt"
                key = document_key(relpath, None).encode()
                path = root / "seeds" / relpath
                path.parent.mkdir(exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(drop_text(n, "2026-03-08"))
                dropped = time.perf_counter()
                while True:
                    conn.request("GET", "/topics/ukraine.atom")
                    response = conn.getresponse()
                    body = response.read()
                    if key in body:
                        latencies.append(time.perf_counter() - dropped)
                        break
                    if time.perf_counter() - dropped > args.timeout:
                        tail = "\n".join((root / "daemon.log").read_text().splitlines()[-15:])
                        raise SystemExit(f"{relpath} not served after {args.timeout}s; the daemon's log:\n{tail}")
                    time.sleep(0.002)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    ms = [x * 1000 for x in latencies]
    print(f"drop-to-served latency over {len(ms)} files ({args.indexed} documents indexed before):")
    print(f"  p50 {statistics.median(ms):.0f} ms   p95 {percentile(ms, 95):.0f} ms   max {max(ms):.0f} ms")


if __name__ == "__main__":
    main()
