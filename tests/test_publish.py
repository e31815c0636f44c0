"""The writer of feeds/: only changed bytes, nothing visible before its batch is durable, in order."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from feedd import publish as module
from feedd.build import build
from feedd.index import Index
from feedd.publish import PublishPlan, Writer
from feedd.reconcile import sync


def test_files_appear_only_when_their_batch_is_flushed_in_the_order_written(tmp_path, monkeypatch):
    (tmp_path / "all.atom").write_bytes(b"old")
    writer = Writer(tmp_path)
    writer.write("articles/a.html", b"page")
    writer.write("all.atom", b"new")
    assert writer.written == ["articles/a.html", "all.atom"]  # staged: their temporary files exist
    # Readers still see the old feed and no page; only hidden temporary files exist.
    assert (tmp_path / "all.atom").read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "articles").iterdir() if not p.name.startswith(".")] == []
    renamed = []
    original = os.replace
    monkeypatch.setattr(module.os, "replace",
                        lambda src, dst: (renamed.append(os.path.relpath(dst, tmp_path)), original(src, dst)))
    writer.flush()
    monkeypatch.undo()
    assert renamed == ["articles/a.html", "all.atom"]
    assert (tmp_path / "all.atom").read_bytes() == b"new" and (tmp_path / "articles/a.html").read_bytes() == b"page"
    assert writer.written == ["articles/a.html", "all.atom"]
    assert not [p for p in tmp_path.rglob(".*.tmp")]
    assert oct((tmp_path / "all.atom").stat().st_mode & 0o777) == oct(module.FILE_MODE)


def test_unchanged_bytes_are_not_written_again(tmp_path):
    path = tmp_path / "all.atom"
    path.write_bytes(b"same")
    os.utime(path, (1_000_000, 1_000_000))
    writer = Writer(tmp_path)
    writer.write("all.atom", b"same")
    writer.flush()
    assert writer.written == [] and path.stat().st_mtime == 1_000_000


def test_what_follows_a_batch_runs_after_it_is_in_place(tmp_path):
    writer = Writer(tmp_path)
    seen = []
    writer.then(lambda: seen.append("nothing pending: at once"))
    writer.write("a.html", b"a")
    writer.then(lambda: seen.append((tmp_path / "a.html").exists()))
    assert seen == ["nothing pending: at once"]
    writer.flush()
    assert seen == ["nothing pending: at once", True]


def test_removals_come_after_the_new_files(tmp_path):
    (tmp_path / "old.html").write_bytes(b"old")
    writer = Writer(tmp_path)
    writer.remove("old.html")
    writer.remove("never-there.html")
    writer.write("new.html", b"new")
    assert (tmp_path / "old.html").exists()
    writer.flush()
    assert not (tmp_path / "old.html").exists() and (tmp_path / "new.html").exists()
    assert writer.written == ["old.html", "new.html"]


def test_a_full_batch_is_flushed_by_itself(tmp_path):
    writer = Writer(tmp_path, batch_files=3)
    for n in range(7):
        writer.write(f"{n}.html", b"x")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [f"{n}.html" for n in range(6)]
    writer.flush()
    assert len(list(tmp_path.iterdir())) == 7


def test_an_error_discards_the_unfinished_batch_and_keeps_the_plan(tmp_path, project, monkeypatch):
    out = tmp_path / "out"
    writer = Writer(out)
    writer.write("a.html", b"a")
    writer.discard()
    assert list(out.iterdir()) == []
    # Through publish(): a disk that fills up leaves no temporary file and the plan as it was.
    project.seed("a.txt", " date 2026-03-01 Zelensky a parlé dimanche à Kiev devant la presse.\n")
    build(project.config)

    def full_disk(root, files):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "_make_durable", full_disk)
    plan = PublishPlan(feeds={"all"}, keys={"x"}, everything=True)
    (project.seeds / "a.txt").write_text(" date 2026-03-02 Zelensky a parlé lundi à Kiev.\n")
    with Index(project.config.index_path) as index:
        sync(project.config, index, datetime.now(timezone.utc))
        with pytest.raises(OSError):
            module.publish(project.config, index, datetime.now(timezone.utc), plan)
    assert plan.everything and plan.feeds == {"all"}
    assert not [p for p in project.feeds.rglob(".*.tmp")]
    assert b"lundi" not in (project.feeds / "all.atom").read_bytes()  # nothing half-published


def test_durability_falls_back_to_one_fsync_a_file_without_syncfs(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(module, "_syncfs", lambda root: False)
    monkeypatch.setattr(module.os, "fsync", lambda fd: synced.append(fd))
    writer = Writer(tmp_path)
    writer.write("a/1.html", b"1")
    writer.write("b/2.html", b"2")
    writer.flush()
    assert len(synced) == 4  # two files, then their two folders


def test_a_drop_that_brings_a_new_feed_lists_it_in_the_opml_files(project):
    """OPML files are rendered only when the list of feeds changes: that list, not a drop's articles."""
    from feedd.publish import publish

    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    project.seed("a.txt", " date 2026-03-08 Zelensky a parlé à Kiev dimanche devant la presse.")
    build(project.config, now=now)
    opml = (project.feeds / "feeds.opml").read_bytes()
    with Index(project.config.index_path) as index:
        project.seed("b.txt", "title: Ports\ndate: 2026-03-09\ntags: Ports\n\nLes ports de la mer Noire rouvrent.")
        report = sync(project.config, index, now, paths=["b.txt"])
        plan = PublishPlan()
        plan.add(report)
        publish(project.config, index, now, plan)
        assert b"topics/ports.atom" in (project.feeds / "feeds.opml").read_bytes()
        assert b"topics/ports.atom" in (project.feeds / "feeds-topics.opml").read_bytes()
        project.seed("c.txt", "title: Kiev\ndate: 2026-03-10\ntags: Ports\n\nZelensky parle encore à Kiev.")
        plan = PublishPlan()
        plan.add(sync(project.config, index, now, paths=["c.txt"]))
        before = (project.feeds / "feeds.opml").stat().st_mtime_ns
        publish(project.config, index, now, plan)
        assert (project.feeds / "feeds.opml").stat().st_mtime_ns == before  # no new feed: not touched
    assert opml != (project.feeds / "feeds.opml").read_bytes()


def test_feeds_stay_settled_under_another_port_not_under_another_site(project):
    """A build settles feeds/; a daemon started on another port (feedd run --port), or with other
    daemon settings, finds them settled and publishes only what changed; another site does not."""
    import dataclasses

    from feedd.config import DaemonConfig, ServerConfig, SiteConfig
    from feedd.publish import settled_at

    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    project.seed("a.txt", " date 2026-03-08 Zelensky a parlé à Kiev dimanche devant la presse.")
    config = project.config
    build(config, now=now)
    with Index(config.index_path) as index:
        assert settled_at(index, config) == now
        served = dataclasses.replace(config, server=ServerConfig(port=0), daemon=DaemonConfig(settle_seconds=1.0))
        assert settled_at(index, served) == now
        assert settled_at(index, dataclasses.replace(config, site=SiteConfig(title="Another"))) is None
