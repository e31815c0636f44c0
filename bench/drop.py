"""One drop's work in a bare process: ``python bench/drop.py PROJECT [--drops N] [--profile]``.

``sync`` + ``publish`` of N files dropped one at a time into PROJECT/seeds/drop-bench/
(a project built already, e.g. by bench/scale.py or ``feedd build``), with the
daemon's memo kept across drops; prints the median and the fastest. For an A/B
of two versions, build one project with each (``PYTHONPATH=<worktree>``) and
alternate the runs. The files stay: remove the folder and build to undo them.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from feedd.config import load_config
from feedd.index import Index
from feedd.publish import PublishPlan, publish
from feedd.reconcile import sync
from feedd.render import RenderMemo

TEXT = (" date {date} Le président ukrainien Zelensky a rencontré à Kiev le ministre numéro {n} "
        "pour parler de la défense aérienne et de la production de drones.\n")
WARM_UP = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    config = load_config(args.project)
    folder = config.seeds_dir / "drop-bench"
    folder.mkdir(exist_ok=True)
    run = str(int(time.time()))
    memo, profile, times = RenderMemo(), cProfile.Profile(), []
    with Index(config.index_path) as index:
        for n in range(WARM_UP + args.drops):
            relpath = f"drop-bench/{run}-{n:04d}.txt"
            now = datetime.now(timezone.utc)
            (config.seeds_dir / relpath).write_text(TEXT.format(date=now.date().isoformat(), n=n), encoding="utf-8")
            started = time.perf_counter()
            if n >= WARM_UP:
                profile.enable()
            plan = PublishPlan()
            plan.add(sync(config, index, now, paths=[relpath]))
            publish(config, index, now, plan, memo)
            profile.disable()
            if n >= WARM_UP:
                times.append((time.perf_counter() - started) * 1000)
    print(f"{args.project}: {len(times)} drops, median {statistics.median(times):.1f} ms, "
          f"fastest {min(times):.1f} ms")
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
