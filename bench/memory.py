"""The daemon's memory through its life: ``python bench/memory.py PROJECT [--drops N] [--burst B] [--after]``.

Starts ``feedd run`` on PROJECT (built already, e.g. by bench/scale.py), drops N
files one at a time, each waited for over HTTP as a reader would (by default
while the daemon still scans ``seeds/`` at start-up; ``--after``: once it has
caught up), then a burst of B files, and prints the daemon's RSS at each step.
The files go in PROJECT/seeds/memory-bench/ and are removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import time
from pathlib import Path

from corpus import drop_text
from latency import start, wait_for_line

from feedd.document import document_key


def memory(pid: int) -> str:
    status = open(f"/proc/{pid}/status").read()
    mb = {name: int(re.search(name + r":\s+(\d+)", status).group(1)) // 1024 for name in ("VmRSS", "VmHWM")}
    return f"RSS {mb['VmRSS']} MB (peak {mb['VmHWM']} MB)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--drops", type=int, default=10)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--after", action="store_true", help="drop only once the start-up has caught up")
    args = parser.parse_args()
    folder = args.project / "seeds" / "memory-bench"
    shutil.rmtree(folder, ignore_errors=True)
    proc, port = start(args.project)
    log = args.project / "daemon.log"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def served(path: str, key: str | None = None) -> bool:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status == 200 and (key is None or key.encode() in body)

    def caught_up() -> None:
        wait_for_line(log, "caught up", 600)
        print(f"  caught up: {memory(proc.pid)}")

    try:
        print(f"  serving: {memory(proc.pid)}")
        if args.after:
            caught_up()
        folder.mkdir()
        for n in range(args.drops):
            (folder / f"{n}.txt").write_text(drop_text(n, "2026-11-29"), encoding="utf-8")
            while not served("/topics/ukraine.atom", document_key(f"memory-bench/{n}.txt", None)):
                time.sleep(0.002)
        print(f"  {args.drops} drops served: {memory(proc.pid)}")
        if not args.after:
            caught_up()
        waiting = [document_key(f"memory-bench/{n}.txt", None) for n in range(args.drops, args.drops + args.burst)]
        for n in range(args.drops, args.drops + args.burst):
            (folder / f"{n}.txt").write_text(drop_text(n, "2026-11-29"), encoding="utf-8")
        while waiting:
            while waiting and served(f"/articles/{waiting[0]}.html"):
                waiting.pop(0)
            time.sleep(0.05)
        print(f"  burst of {args.burst} served: {memory(proc.pid)}")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
