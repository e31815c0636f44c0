"""``feedd build``: the pipeline run once, reconcile ``seeds/`` with the index, then publish everything.

The daemon runs the same two stages, :func:`feedd.reconcile.sync` for the
paths its watcher saw and :func:`feedd.publish.publish` with a plan of what
changed; there is no other way in which a document is read, tagged or rendered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from .config import Config
from .index import Index
from .publish import PublishPlan, owe, publish
from .reconcile import SyncReport, sync
from .render import RenderMemo


@dataclass
class BuildResult:
    sync: SyncReport
    written: list[str]
    seconds: float


def build(config: Config, now: datetime | None = None, progress: Callable | None = None) -> BuildResult:
    """Reconcile everything and publish every feed: ``feedd build``."""
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    with Index(config.index_path, writer=True) as index:
        owe(index)
        report = sync(config, index, now, progress=progress)
        # Each page is rendered once: no frames to keep for the next publish (there is none).
        written = publish(config, index, now, PublishPlan.of(report, everything=True), RenderMemo(frames=0, heads=0))
    return BuildResult(report, written, time.perf_counter() - started)
