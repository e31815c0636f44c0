"""What issue 13's targets leave to feedd's own code on this machine.

``python bench/floor.py [N] [--runs R] [--drop PROJECT]``.

Side by side in each run, on the same N generated documents (bench/corpus.py):

- Hugo's build, as bench/hugo.py makes it (Debian's ``hugo``);
- ``feedd build`` from an empty index (the bundled feedd.toml, archives on);
- the analysis alone: each document's language and topics
  (:func:`feedd.reconcile.analyse`) on every core (forked processes, the
  model loaded first): nothing stored, nothing rendered;
- the files alone: the tree that build published, written again from memory
  into an empty folder (a) as Hugo writes its files (open, write, close, on 8
  threads: no temporary file, no fsync) and (b) through feedd's
  :class:`~feedd.publish.Writer`, as the brief asks (a temporary file beside
  each, one barrier, the renames, a barrier for the renames).

The analysis and the Writer are what a build cannot do without; their sum
against Hugo's time is their share of a build, one after the other, before
any rendering or bookkeeping (both keep the two cores busy, so they overlap
only where the Writer waits on the disk). With ``--drop PROJECT`` (a built project, such as
bench/scale.py's), also the files one drop rewrites there: one French
article is dropped and published as bench/drop.py does (it stays, as
drop.py's do), then those files, each changed, are written again through the
Writer where they are, 30 times, and put back as they were: a drop's disk
work with nothing rendered around it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import drop_text, generate  # noqa: E402
from drop import time_calls  # noqa: E402
from hugo import REPO, find_hugo, hugo_site, timed, timed_feedd_build  # noqa: E402

from feedd import publish as stages  # noqa: E402
from feedd.config import load_config  # noqa: E402

DROP_ROUNDS = 30
HUGO_THREADS = 8  # as many files in flight as feedd's Writer keeps

_config = None


def _load(root: str) -> None:
    global _config
    from feedd.reconcile import _warm_up

    _config = load_config(Path(root))
    _warm_up(_config)


def _analyse(path: str) -> int:
    from feedd.reconcile import analyse

    analyse(Path(path).read_bytes(), path, _config)
    return 1


def analysis_alone(root: Path, seeds: list[Path]) -> float:
    """Seconds to read, detect and tag every seed on every core, the workers warm."""
    cores = os.cpu_count() or 1
    with multiprocessing.get_context("fork").Pool(cores, initializer=_load, initargs=(str(root),)) as pool:
        pool.map(_analyse, [str(seeds[0])] * cores)  # each worker's matchers compiled before the clock starts
        started = time.perf_counter()
        pool.map(_analyse, [str(path) for path in seeds], chunksize=64)
        return time.perf_counter() - started


def read_tree(folder: Path) -> list[tuple[str, bytes]]:
    return [(str(path.relative_to(folder)), path.read_bytes()) for path in sorted(folder.rglob("*"))
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)]


def written_as_hugo(files: list[tuple[str, bytes]], out: Path) -> float:
    """Open, write, close: no temporary file, no fsync (Hugo's way)."""
    made: set[str] = set()

    def write(item: tuple[str, bytes]) -> None:
        relpath, data = item
        path = os.path.join(out, relpath)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as fh:
            fh.write(data)

    started = time.perf_counter()
    with ThreadPoolExecutor(HUGO_THREADS) as threads:
        list(threads.map(write, files))
    return time.perf_counter() - started


def written_by_feedd(files: list[tuple[str, bytes]], out: Path, threads=None) -> float:
    """Through feedd's Writer, in its batches, as a build writes them."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    writer = stages.Writer(out, threads=threads)
    for relpath, data in files:
        writer.write(relpath, data)
    writer.flush()
    return time.perf_counter() - started


def bulk(args) -> None:
    hugo, version = find_hugo()
    times: dict[str, list[float]] = {"hugo": [], "feedd": [], "analysis": [], "as hugo": [], "writer": []}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        seeds = tmp / "corpus"
        paths = generate(args.n, seeds)
        site = tmp / "hugo"
        hugo_site(seeds, site)
        analysis_root = tmp / "analysis"
        analysis_root.mkdir()
        shutil.copy(REPO / "feedd.toml", analysis_root / "feedd.toml")
        for run in range(args.runs):
            out = tmp / f"public{run}"
            os.sync()  # each step starts with nothing left for the disk to write
            times["hugo"].append(timed([hugo, "--source", str(site), "--destination", str(out), "--quiet"]))
            theirs = [path.stat().st_size for path in out.rglob("*") if path.is_file()]
            shutil.rmtree(out)
            root = tmp / f"feedd{run}"
            os.sync()
            times["feedd"].append(timed_feedd_build(seeds, root))
            os.sync()
            times["analysis"].append(analysis_alone(analysis_root, paths))
            files = read_tree(root / "feeds")
            shutil.rmtree(root)
            os.sync()
            times["as hugo"].append(written_as_hugo(files, tmp / "plain"))
            shutil.rmtree(tmp / "plain")
            os.sync()
            times["writer"].append(written_by_feedd(files, tmp / "writer"))
            shutil.rmtree(tmp / "writer")
            size, count = sum(len(data) for _, data in files), len(files)
            del files
    med = {name: statistics.median(values) for name, values in times.items()}

    def row(name: str) -> str:
        return f"{med[name]:.1f} s {[round(t, 1) for t in times[name]]}"

    floor = med["analysis"] + med["writer"]
    print(f"{args.n:,} documents, median of {args.runs} runs, side by side (hugo {version}, {os.cpu_count()} cores)")
    print(f"  hugo build: {row('hugo')} ({len(theirs):,} files, {sum(theirs) / 1e6:.0f} MB)")
    print(f"  feedd build: {row('feedd')}: {med['feedd'] / med['hugo']:.2f}x hugo")
    print(f"  the analysis alone (language and topics, {os.cpu_count()} processes): {row('analysis')}")
    print(f"  the build's {count:,} files ({size / 1e6:.0f} MB), written again: "
          f"as hugo writes them {row('as hugo')}; through feedd's Writer {row('writer')}")
    print(f"  analysis + Writer: {floor:.1f} s = {floor / med['hugo']:.2f}x hugo, before any rendering or "
          f"bookkeeping (target 1.5x)")


def drop(project: Path) -> None:
    from feedd.index import Index
    from feedd.publish import PublishPlan, publish, writer_threads
    from feedd.reconcile import sync
    from feedd.render import RenderMemo

    config = load_config(project)
    now = datetime.now(timezone.utc)
    relpath = f"drop-bench/floor-{time.time_ns()}.txt"
    (config.seeds_dir / relpath).parent.mkdir(exist_ok=True)
    (config.seeds_dir / relpath).write_text(drop_text(0, now.date().isoformat(), time.time_ns()), encoding="utf-8")
    threads = writer_threads()
    with Index(config.index_path) as index:
        plan = PublishPlan()
        plan.add(sync(config, index, now, paths=[relpath]))
        written = publish(config, index, now, plan, RenderMemo(), threads=threads)
    files = [(path, (config.feeds_dir / path).read_bytes()) for path in written if (config.feeds_dir / path).is_file()]
    spent: dict[str, list[float]] = {"syncfs": [], "renames": []}
    time_calls(stages, "_make_durable", spent["syncfs"])
    time_calls(stages, "_make_renames_durable", spent["renames"])
    walls = []
    for n in range(DROP_ROUNDS):  # in place: a new folder may sit where creating a file costs ten times more
        changed = [(path, data + f"\n<!-- {n} -->\n".encode()) for path, data in files]
        walls.append(written_by_feedd(changed, config.feeds_dir, threads))
    written_by_feedd(files, config.feeds_dir, threads)  # as they were
    threads.shutdown()
    size = sum(len(data) for _, data in files)
    barrier, renames = (statistics.median(spent[name]) * 1000 for name in ("syncfs", "renames"))
    print(f"{project}: the {len(files)} files one drop rewrites ({size / 1e6:.1f} MB), written again through "
          f"feedd's Writer, nothing rendered, median of {DROP_ROUNDS}: {statistics.median(walls) * 1000:.1f} ms "
          f"(fastest {min(walls) * 1000:.1f}; the barrier before the renames {barrier:.1f} ms, the renames' "
          f"{renames:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop", type=Path, metavar="PROJECT", help="also a drop's files in this built project")
    parser.add_argument("--no-bulk", action="store_true", help="only the drop's files")
    parser.add_argument("--dir", type=Path, default=None, help="where the work folders go (default: the system's)")
    args = parser.parse_args()
    if args.drop:
        drop(args.drop)
    if not args.no_bulk:
        bulk(args)


if __name__ == "__main__":
    main()
