"""The writer of feeds/: only changed bytes, nothing visible before its batch is durable, in order."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone

import pytest

from conftest import SMALL_ARCHIVES
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


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o026], ids=oct)
def test_files_are_readable_by_everyone_whatever_the_umask(tmp_path, umask):
    """nginx, as another user, serves feeds/: a file is 0644 under a strict umask too (fchmod),
    and without that call where the umask already leaves 0644 alone. Temporary files are named
    apart, hidden, and none is left."""
    old = os.umask(umask)
    module._umask_keeps_mode.cache_clear()
    try:
        writer = Writer(tmp_path)
        for n in range(3):
            writer.write(f"topics/t{n}.atom", b"<feed/>")
        (tmp_path / "all.atom").write_bytes(b"old")
        writer.write("all.atom", b"new")
        writer.flush()
    finally:
        os.umask(old)
        module._umask_keeps_mode.cache_clear()
    for path in [tmp_path / "all.atom", *(tmp_path / "topics").iterdir()]:
        assert oct(path.stat().st_mode & 0o777) == oct(module.FILE_MODE), path
    assert sorted(p.name for p in (tmp_path / "topics").iterdir()) == ["t0.atom", "t1.atom", "t2.atom"]
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_temporary_name_left_by_a_crash_is_stepped_over(tmp_path):
    """Names come from a stem and a count: one a crash left (the same stem, after a restart with the
    same process id) is skipped, never opened."""
    stem, count = module._temp_names(os.getpid())
    following = next(count)
    left = tmp_path / f".all.atom.{stem}{following + 1}.tmp"
    left.write_bytes(b"left by a crash")
    fd, name = module._temp_file(str(tmp_path / "all.atom"))
    os.close(fd)
    assert name == f"{tmp_path}/.all.atom.{stem}{following + 2}.tmp"
    assert left.read_bytes() == b"left by a crash"


def test_the_callers_writer_threads_serve_one_publish_after_another(tmp_path):
    """The daemon keeps the writer's threads (starting them for each drop cost it): a writer given
    them leaves them running; one without starts its own and stops them."""
    def writing() -> set[int]:
        return {t.ident for t in threading.enumerate() if t.name.startswith("feedd-write")}

    threads = module.writer_threads()
    try:
        seen = []
        for n in range(3):
            writer = Writer(tmp_path, threads=threads)
            writer.write(f"{n}.html", str(n).encode())
            writer.flush()
            seen.append(writing())
        assert seen[0] and seen[0] == seen[1] == seen[2]
        assert [(tmp_path / f"{n}.html").read_bytes() for n in range(3)] == [b"0", b"1", b"2"]
    finally:
        threads.shutdown()
    writer = Writer(tmp_path)
    writer.write("own.html", b"own")
    writer.flush()
    assert not writing() and (tmp_path / "own.html").read_bytes() == b"own"


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


def test_what_a_flush_replaces_or_takes_down_is_freed_after_it_on_the_callers_threads(tmp_path):
    """Freeing a file's last name costs some disks ~0.2 ms (this one's): a flush sets the old files
    aside under a hidden folder and the threads free them once the new ones are in place."""
    (tmp_path / "all.atom").write_bytes(b"old")
    (tmp_path / "gone.html").write_bytes(b"gone")
    old = (tmp_path / "all.atom").stat().st_ino
    threads = module.writer_threads()
    busy = threading.Event()
    try:
        writer = Writer(tmp_path, threads=threads)
        writer.write("all.atom", b"new")
        writer.remove("gone.html")
        assert writer.written == ["all.atom", "gone.html"]  # staged
        for _ in range(module.WRITER_THREADS):
            threads.submit(busy.wait)  # what the flush leaves to the threads waits behind these
        writer.flush()
        assert (tmp_path / "all.atom").read_bytes() == b"new" and not (tmp_path / "gone.html").exists()
        aside = sorted((tmp_path / module.TRASH).iterdir())
        assert sorted(path.read_bytes() for path in aside) == [b"gone", b"old"]
        assert old in {path.stat().st_ino for path in aside}  # the old file itself, not a copy
        assert all(path.name.startswith(".") and path.name.endswith(".tmp") for path in aside)
    finally:
        busy.set()
        threads.shutdown(wait=True)
    assert list((tmp_path / module.TRASH).iterdir()) == []


def test_files_set_aside_before_a_crash_go_with_the_other_temporary_files(tmp_path):
    (tmp_path / module.TRASH).mkdir()
    (tmp_path / module.TRASH / ".0123abcd.tmp").write_bytes(b"old")
    assert module.remove_stale_temp_files(tmp_path) == 1
    assert list((tmp_path / module.TRASH).iterdir()) == []


def test_a_full_batch_is_flushed_by_itself(tmp_path):
    writer = Writer(tmp_path, batch_files=3)
    for n in range(7):
        writer.write(f"{n}.html", b"x")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [f"{n}.html" for n in range(6)]
    writer.flush()
    assert len(list(tmp_path.iterdir())) == 7


def test_held_files_are_staged_but_renamed_only_after_release_behind_what_came_before(tmp_path):
    """What links to pages still being rendered waits: no flush renames it before its release."""
    writer = Writer(tmp_path, batch_files=2)
    held = writer.held()
    held.write("all.atom", b"feed")
    held.remove("articles/gone.html")
    done = []
    held.then(lambda: done.append((tmp_path / "all.atom").exists()))
    writer.write("articles/1.html", b"1")
    writer.write("articles/2.html", b"2")  # a full batch: flushed by itself
    assert (tmp_path / "articles/2.html").exists() and not (tmp_path / "all.atom").exists()
    assert [p.name for p in tmp_path.glob(".all.atom.*.tmp")]  # staged all the same
    writer.write("articles/3.html", b"3")
    held.release()
    writer.flush()
    assert writer.written == ["articles/1.html", "articles/2.html", "articles/3.html", "all.atom"]
    assert done == [True]
    # A held file discarded with its writer leaves no temporary file behind.
    held = writer.held()
    held.write("lost.atom", b"x")
    writer.discard()
    assert not list(tmp_path.rglob(".*.tmp")) and not (tmp_path / "lost.atom").exists()


def seed_speeches(project, count: int) -> None:
    """``count`` articles in French and the Ukraine topic, ``a000.txt`` on, spread over March."""
    for n in range(count):
        project.seed(f"a{n:03d}.txt", f" date 2026-03-{1 + n % 28:02d} Zelensky a parlé à Kiev, discours {n}.\n")


def test_article_pages_rendered_by_workers_land_before_everything_that_links_to_them(project, monkeypatch):
    """The workers render article pages while this process renders the archives and feeds:
    still, every page is renamed into place before the first file that links to one."""
    seed_speeches(project, module.PAGE_CHUNK * 4)  # enough pages for the workers, several chunks
    renamed = []
    original = os.replace
    monkeypatch.setattr(module.os, "replace",
                        lambda src, dst: (renamed.append(os.path.relpath(dst, project.feeds)), original(src, dst)))
    build(project.config)
    renamed = [path for path in renamed if not path.startswith("..")]  # feeds/ only, not a cache
    pages = [n for n, path in enumerate(renamed) if path.startswith("articles/")]
    linking = [n for n, path in enumerate(renamed) if path.endswith((".atom", ".rss", ".json"))]
    assert len(pages) == module.PAGE_CHUNK * 4 and linking
    assert max(pages) < min(linking)


def test_an_error_while_the_workers_write_pages_leaves_no_temporary_file(project, monkeypatch):
    """Pages a worker staged, feeds held back, the writer's own: an error drops them all."""
    seed_speeches(project, module.PAGE_CHUNK * 4)

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(module.render, "render_feed", broken)
    with pytest.raises(OSError):
        build(project.config)
    assert not [p for p in project.feeds.rglob(".*.tmp")]
    assert not (project.feeds / "all.atom").exists()


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


def test_a_whole_publish_renders_each_entry_and_list_item_once(project, monkeypatch):
    """A document is in several feeds, their archive pages and their pages: a whole publish
    renders its entry in each format, and its line in a page's list, once, however small the
    memo a daemon keeps between drops."""
    from feedd.render import EntryMemo, RenderMemo

    project.write_config(SMALL_ARCHIVES)
    seed_speeches(project, 45)
    made = []
    original = EntryMemo.remember

    def remember(memo, key, value):  # each piece rendered goes into the memo once it is made
        made.append(key)
        return original(memo, key, value)

    monkeypatch.setattr(EntryMemo, "remember", remember)
    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    with Index(project.config.index_path, writer=True) as index:
        sync(project.config, index, now)
        module.publish(project.config, index, now, PublishPlan(everything=True),
                       RenderMemo(entries=2, items=2, frames=0, heads=0))
    kinds = {key[1] for key in made}
    assert {"atom", "rss", "json", "item"} <= kinds
    assert len(list((project.feeds / "all" / "archive").iterdir())) > 2  # archive pages, several feeds
    assert len(made) == len(set(made))
