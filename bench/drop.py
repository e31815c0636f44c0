"""One drop's work in a bare process: ``python bench/drop.py PROJECT [--drops N] [--at-once K] [--profile | --phases]``.

``sync`` + ``publish`` of N files dropped one at a time into PROJECT/seeds/drop-bench/
(a project built already, e.g. by bench/scale.py or ``feedd build``), with the
daemon's memo kept across drops; prints the median and the fastest, and the
median CPU time of this thread (the rest is waiting: on the disk, on the
writer's threads). ``--phases``: the median wall time of each stage of a drop
(timers around them, no profiler; a drop's mean). For an A/B of two versions, alternate the
runs (``PYTHONPATH=<worktree>``). The files stay: remove the folder and build
to undo them.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from corpus import drop_text

from feedd.config import load_config
from feedd.index import Index
from feedd.publish import PublishPlan, publish, writer_threads
from feedd.reconcile import sync
from feedd.render import RenderMemo

WARM_UP = 3


def time_calls(owner, name: str, spent: list[float]) -> None:
    """Replace ``owner.name`` with itself timed: each call's seconds go to ``spent``."""
    function = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)
    setattr(owner, name, wrapper)


def stage_timers() -> dict[str, list[float]]:
    """Wrap each stage of a publish (and the sync) in a timer; their times, one list per stage."""
    from collections import defaultdict

    from feedd import archive, index, publish as stages, reconcile

    spent: dict[str, list[float]] = defaultdict(list)

    def timed(owner, name, label):
        time_calls(owner, name, spent[label])

    for name in ("article_pages", "due_feeds", "archive_pages", "feed", "take_down", "front"):
        timed(stages.Publication, name, name)
    timed(index.Index, "latest", "  latest (in due_feeds)")
    timed(archive, "update", "  archive.update (in due_feeds)")
    timed(reconcile.Reconciliation, "look", "  look at the paths (in sync)")
    timed(reconcile.Reconciliation, "_prepare", "  read the files, hand them to the workers (in sync)")
    timed(reconcile.Reconciliation, "_ingest", "  the workers' results into the index (in sync)")
    timed(stages.Writer, "flush", "flush")
    timed(stages, "_make_durable", "  syncfs before the renames (in flush)")
    timed(stages, "_make_renames_durable", "  the renames made durable (in flush)")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--phases", action="store_true", help="print each stage's median wall time")
    parser.add_argument("--at-once", type=int, default=1, metavar="K",
                        help="each drop is K files written together (a burst: one sync and one publish)")
    args = parser.parse_args()
    config = load_config(args.project)
    folder = config.seeds_dir / "drop-bench"
    folder.mkdir(exist_ok=True)
    run = time.time_ns()
    memo, threads, profile, times, cpu = RenderMemo(), writer_threads(), cProfile.Profile(), [], []  # as the daemon
    spent = stage_timers() if args.phases else {}
    with Index(config.index_path) as index:
        for n in range(WARM_UP + args.drops):
            now = datetime.now(timezone.utc)
            relpaths = [f"drop-bench/{run}-{n:04d}-{k:04d}.txt" for k in range(args.at_once)]
            for k, relpath in enumerate(relpaths):
                (config.seeds_dir / relpath).write_text(drop_text(n * 10_000 + k, now.date().isoformat(), run),
                                                        encoding="utf-8")
            if n == WARM_UP:
                for times_of_stage in spent.values():
                    times_of_stage.clear()
            started, started_cpu = time.perf_counter(), time.thread_time()
            if n >= WARM_UP and args.profile:
                profile.enable()
            plan = PublishPlan()
            plan.add(sync(config, index, now, paths=relpaths))
            synced = time.perf_counter()
            publish(config, index, now, plan, memo, threads=threads)
            profile.disable()
            if n >= WARM_UP:
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
                if args.phases:
                    spent["sync"].append(synced - started)
    threads.shutdown()
    print(f"{args.project}: {len(times)} drops, median {statistics.median(times):.1f} ms, "
          f"fastest {min(times):.1f} ms; this thread's CPU median {statistics.median(cpu):.1f} ms")
    for stage, seconds in spent.items():
        print(f"  {stage:40s} {sum(seconds) / len(times) * 1000:6.1f} ms a drop (mean)")
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
