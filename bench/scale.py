"""feedd at scale: ``python bench/scale.py [N] [--dir DIR] [--drops K] [--burst B]``.

1. ``feedd build`` of N generated documents (default 100,000) from an empty
   index: wall time, peak memory, size of the index (skipped with --reuse
   when DIR already holds a built project);
2. ``feedd run`` on it, nothing changed: time from launch until it serves;
3. K single files dropped one at a time (default 20): the first as soon as
   it serves, while its start-up still scans ``seeds/`` in a worker, the
   others once the start-up has caught up. For each, the work inside the
   daemon (its log line "change of 1 path: X ms", from the watcher's
   hand-over to the last feed written), which files it rewrote, and
   drop-to-served latency over HTTP. While it waits, the benchmark asks for
   the drop's feed every 2 ms (--poll) as a feed reader does, with the ETag
   it last had (If-None-Match): a 304 until the feed changes;
4. a burst of B files (default 1,000) written at once: time until it is
   published: ``all.atom`` (asked for every 50 ms, with its ETag) lists the
   last file written, and so, by the order files are written in, every page
   of the burst is in place (then asked for, each once: a page missing fails
   the benchmark). Earlier versions asked for each page in turn until all
   answered 200, which counted the 0.5-1.1 s those 1,000 requests take;
5. the daemon's resident memory after all that (VmRSS, VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import drop_text, generate  # noqa: E402
from latency import percentile, start, wait_for_line  # noqa: E402

from feedd.document import document_key  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.002  # how often a drop's feed is asked for while waiting (--poll)
# ...and all.atom during a burst: a request every 2 ms for seconds slows the daemon's work (its
# server's threads share the interpreter with it), and 50 ms is fine-grained enough for seconds.
BURST_POLL_SECONDS = 0.05


def memory(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024 for key in ("VmRSS", "VmHWM")}


def get(conn: http.client.HTTPConnection, path: str, etag: str | None = None) -> tuple[int, bytes, str | None]:
    conn.request("GET", path, headers={"If-None-Match": etag} if etag else {})
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("ETag")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--dir", type=Path, help="work folder (default: /tmp/feedd-scale-N)")
    parser.add_argument("--reuse", action="store_true", help="keep DIR's corpus and index if built already")
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=POLL_SECONDS,
                        help="seconds between the benchmark's requests while it waits for a drop to be served "
                             "(default 0.002; the daemon's server answering them shares the interpreter)")
    parser.add_argument("--core-feeds-only", action="store_true",
                        help="switch off the author and topic-in-one-language feeds (to compare with older figures)")
    args = parser.parse_args()
    root = args.dir or Path(f"/tmp/feedd-scale-{args.n}")
    today = date.today().isoformat()
    run = time.time_ns()
    print(f"feedd at scale, {args.n:,} documents, {today}")
    if not (args.reuse and (root / ".feedd" / "index.sqlite3").exists()):
        shutil.rmtree(root, ignore_errors=True)
        (root / "seeds").mkdir(parents=True)
        toml = (REPO / "feedd.toml").read_text(encoding="utf-8")
        if args.core_feeds_only:
            toml = toml.replace("[feeds]\n", "[feeds]\nauthors = false\ntopic_languages = false\n", 1)
        (root / "feedd.toml").write_text(toml, encoding="utf-8")
        generate(args.n, root / "seeds" / "corpus")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(root)], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        index_mb = sum(p.stat().st_size for p in (root / ".feedd").glob("index.sqlite3*")) / 1e6
        print(f"  build from empty: {seconds:.1f} s, peak RSS {peak:.0f} MB, index {index_mb:.0f} MB, "
              f"feeds/ {sum(1 for _ in (root / 'feeds').rglob('*'))} files")
    shutil.rmtree(root / "seeds" / "drop", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(root)], check=True,
                   stdout=subprocess.DEVNULL)  # the drops of an earlier run are gone from the index too
    (root / "daemon.log").unlink(missing_ok=True)

    launched = time.perf_counter()
    proc, port = start(root)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while get(conn, "/all.atom")[0] != 200:
        time.sleep(0.01)
    print(f"  startup, nothing changed: serving after {time.perf_counter() - launched:.2f} s")
    try:
        drop_dir = root / "seeds" / "drop"
        drop_dir.mkdir(exist_ok=True)
        latencies = []
        daemon_log = root / "daemon.log"
        etag = get(conn, "/topics/ukraine.atom")[2]
        for n in range(args.drops):
            relpath = f"drop/{n:05d}.txt"
            key = document_key(relpath, None).encode()
            with open(root / "seeds" / relpath, "w", encoding="utf-8") as fh:
                fh.write(drop_text(n, today, run))
            dropped = time.perf_counter()
            while True:
                status, body, etag = get(conn, "/topics/ukraine.atom", etag)
                if status == 200 and key in body:
                    break
                if time.perf_counter() - dropped > 30:
                    raise SystemExit(f"{relpath} not served after 30 s")
                time.sleep(args.poll)
            latencies.append((time.perf_counter() - dropped) * 1000)
            if n == 0:  # the others once the start-up has caught up
                wait_for_line(daemon_log, r"caught up in", 120)
        wait_for_line(daemon_log, rf"change of 1 path: .*articles/{re.escape(key.decode())}\.html", 10)
        log = daemon_log.read_text()
        work = [float(ms) for ms in re.findall(r"change of 1 path: ([\d.]+) ms", log.partition("caught up in")[2])]
        written = re.findall(r"change of 1 path: .*?files written: (.*)", log)
        steady = latencies[1:]
        print(f"  one dropped file, {len(work)} drops after the start-up caught up: work inside the daemon median "
              f"{statistics.median(work):.1f} ms, p95 {percentile(work, 95):.1f} ms, max {max(work):.1f} ms")
        print(f"    files rewritten by the last drop: {written[-1] if written else '?'}")
        print(f"    drop-to-served over HTTP: p50 {statistics.median(steady):.0f} ms, "
              f"p95 {percentile(steady, 95):.0f} ms, max {max(steady):.0f} ms; the first, dropped as "
              f"it began serving (while it scans seeds/): {latencies[0]:.0f} ms")

        keys = []
        etag = get(conn, "/all.atom")[2]
        logged = len(daemon_log.read_bytes())
        burst = time.perf_counter()
        for n in range(args.burst):
            relpath = f"drop/burst-{n:05d}.txt"
            (root / "seeds" / relpath).write_text(drop_text(10_000 + n, today, run), encoding="utf-8")
            keys.append(document_key(relpath, None))
        written_in = time.perf_counter() - burst
        # Published: everything's feed lists the last file written. Files go out in the order
        # readers follow links (pages before the feeds that list them) and changes one after the
        # other, so every page of the burst is in place by then; asked for below, each once.
        last = f"articles/{keys[-1]}.html".encode()
        while True:
            status, body, etag = get(conn, "/all.atom", etag)
            if status == 200 and last in body:
                break
            if time.perf_counter() - burst > 120:
                raise SystemExit("the burst's last file not in all.atom after 120 s")
            time.sleep(BURST_POLL_SECONDS)
        published_in = time.perf_counter() - burst
        missing = [key for key in keys if get(conn, f"/articles/{key}.html")[0] != 200]
        if missing:
            raise SystemExit(f"all.atom lists the burst's last file, but {len(missing)} of its pages are missing")
        asked_in = time.perf_counter() - burst - published_in
        change = re.findall(r"change of (\d+) paths: ([\d.]+) ms \(sync ([\d.]+), publish ([\d.]+)\)",
                            daemon_log.read_bytes()[logged:].decode("utf-8", "replace"))
        print(f"  burst of {args.burst} files (written in {written_in:.2f} s): published {published_in:.2f} s "
              f"after the first was written (all.atom lists the last one; then every page asked for once, "
              f"all in place: {asked_in:.2f} s); the daemon's changes: "
              + ", ".join(f"{paths} paths {float(ms) / 1000:.2f} s (sync {float(sync) / 1000:.2f}, "
                          f"publish {float(pub) / 1000:.2f})" for paths, ms, sync, pub in change))
        mem = memory(proc.pid)
        print(f"  daemon memory: RSS {mem['VmRSS']:.0f} MB now, peak {mem['VmHWM']:.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root / "seeds" / "drop", ignore_errors=True)


if __name__ == "__main__":
    main()
