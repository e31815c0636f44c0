import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path


from conftest import TOML, Project, parse_feed
from feedd.build import build
from feedd.feeds import GONE_MAP, MOVED_MAP
from feedd.index import Index

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()

FR = " date 2026-03-08 Le président ukrainien Zelensky a parlé dimanche à Kiev. Il a évoqué la production d’armements.\n"
EN = "title: Drones over the sea\ndate: 2026-03-09T10:00:00Z\ntags: Maritime, Défense\n\nNaval drones patrolled the coast again on Monday, the navy said.\n"


def ids(project: Project, feed: str) -> list[str]:
    return [entry.id for entry in project.feed(feed).entries]


def all_feeds_are_valid(project: Project) -> int:
    count = 0
    for path in sorted(project.feeds.rglob("*")):
        if path.suffix in (".rss", ".atom"):
            parse_feed(path.read_bytes())
            count += 1
    return count


def test_bundled_seeds_publish_french_and_topic_feeds(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "seeds", root / "seeds")
    shutil.copy(REPO / "feedd.toml", root / "feedd.toml")
    project = Project.__new__(Project)
    project.root, project.seeds, project.feeds = root, root / "seeds", root / "feeds"
    result = build(project.config, now=NOW)
    assert not result.sync.rejected
    fr = project.feed("languages/fr.atom")
    assert [e.title[:30] for e in fr.entries] == ["Le président ukrainien Volodym"]
    assert project.feed("languages/fr.rss").feed.language == "fr"
    sample_id = fr.entries[0].id
    assert sample_id in ids(project, "topics/ukraine.atom")
    assert all_feeds_are_valid(project) >= 10
    for name in ("index.html", "feeds.opml"):
        assert (project.feeds / name).is_file()
    # JSON Feed beside each Atom feed, with the same entries.
    for atom in project.feeds.rglob("*.atom"):
        items = json.loads(atom.with_suffix(".json").read_bytes())["items"]
        assert [item["id"] for item in items] == [e.id for e in parse_feed(atom.read_bytes()).entries]


def test_every_topic_source_reaches_its_feed(project):
    project.seed("fr.txt", FR)
    project.seed("en.txt", EN)
    project.seed("Local News/a.txt", " date 2026-03-10 Le conseil municipal a voté le budget de la ville pour l'année prochaine.")
    build(project.config, now=NOW)
    assert len(ids(project, "topics/ukraine.atom")) == 1  # keyword rule
    assert len(ids(project, "topics/defense.atom")) == 2  # rule (armements) and tag (Défense)
    assert project.feed("topics/defense.atom").feed.title == "Test site: Défense"
    assert len(ids(project, "topics/maritime.rss")) == 1  # tag
    assert len(ids(project, "topics/local-news.atom")) == 1  # folder
    assert len(ids(project, "all.atom")) == 3
    assert len(ids(project, "languages/en.atom")) == 1 and len(ids(project, "languages/fr.atom")) == 2


def test_inflected_forms_reach_topic_feeds_in_each_language(project):
    project.write_config(TOML + """
[topics.war]
title = "War"
keywords = ["війна", "guerre"]
[topics.war.by_language]
de = ["Krieg"]
""")
    project.seed("uk.txt", " date 2026-03-10 Війни закінчуються за столом переговорів, сказав міністр закордонних "
                           "справ у понеділок, після зустрічі з колегами.")
    project.seed("fr.txt", " date 2026-03-10 Les deux guerres ont bouleversé l'économie de la région, selon un "
                           "rapport publié lundi par la Banque mondiale.")
    project.seed("de.txt", " date 2026-03-10 Die Kriege der letzten Jahre haben die Energiepreise in Europa "
                           "stark steigen lassen, sagte die Ministerin.")
    project.seed("en.txt", " date 2026-03-10 Krieg is not an English word, and this article is about gardening "
                           "in the spring.")
    build(project.config, now=NOW)
    war = project.feed("topics/war.atom")
    assert sorted(e.link.rsplit("/", 1)[-1][:2] for e in war.entries) == ["de", "fr", "uk"]


def test_a_second_build_changes_no_byte(project):
    project.seed("fr.txt", FR, mtime=T0)
    project.seed("en.txt", EN, mtime=T0)
    build(project.config, now=NOW)
    before = project.outputs()
    stats = {p: os.stat(project.feeds / p).st_mtime_ns for p in before}
    result = build(project.config, now=NOW + timedelta(hours=1))
    assert result.written == [] and result.sync.unchanged == 2
    assert project.outputs() == before
    assert {p: os.stat(project.feeds / p).st_mtime_ns for p in before} == stats


def test_a_lost_index_and_lost_feeds_come_back_identical(project):
    project.seed("fr.txt", FR, mtime=T0)
    project.seed("sub/en.txt", EN, mtime=T0)
    build(project.config, now=NOW)
    before = project.outputs()
    shutil.rmtree(project.root / ".feedd")
    shutil.rmtree(project.feeds)
    build(project.config, now=NOW)
    assert project.outputs() == before


def test_an_edit_keeps_the_id_and_moves_updated(project):
    path = project.seed("fr.txt", FR, mtime=T0)
    build(project.config, now=NOW)
    first = project.feed("all.atom").entries[0]
    path.write_text(FR.replace("dimanche", "lundi"), encoding="utf-8")
    os.utime(path, (T0 + 3600, T0 + 3600))
    result = build(project.config, now=NOW)
    assert result.sync.updated == ["fr.txt"]
    second = project.feed("all.atom").entries[0]
    assert second.id == first.id and second.link == first.link
    assert second.updated_parsed > first.updated_parsed
    assert second.published == first.published
    assert "lundi" in second.content[0].value


def test_a_rename_while_stopped_keeps_the_id(project):
    project.seed("fr.txt", FR, mtime=T0)
    build(project.config, now=NOW)
    first = ids(project, "all.atom")
    (project.seeds / "ukraine").mkdir()
    os.rename(project.seeds / "fr.txt", project.seeds / "ukraine" / "renamed.txt")
    result = build(project.config, now=NOW)
    assert result.sync.moved == [("fr.txt", "ukraine/renamed.txt")] and not result.sync.removed
    assert ids(project, "all.atom") == first
    assert ids(project, "topics/ukraine.atom") == first


def test_a_header_less_file_keeps_its_first_date_across_edits(project):
    path = project.seed("note.txt", "Kiev a accueilli dimanche une réunion des ministres européens.", mtime=T0)
    build(project.config, now=NOW)
    published = project.feed("all.atom").entries[0].published
    path.write_text("Kiev a accueilli lundi une réunion des ministres européens.", encoding="utf-8")
    os.utime(path, (T0 + 86400, T0 + 86400))
    build(project.config, now=NOW)
    assert project.feed("all.atom").entries[0].published == published == "2026-03-01T00:00:00+00:00"


def test_a_deleted_file_leaves_its_feeds_which_stay_valid(project):
    path = project.seed("en.txt", EN)
    build(project.config, now=NOW)
    page = next((project.feeds / "articles").iterdir())
    path.unlink()
    result = build(project.config, now=NOW)
    assert result.sync.removed == ["en.txt"]
    assert not page.exists()
    for feed in ("all.atom", "topics/maritime.atom", "topics/maritime.rss", "languages/en.rss"):
        assert project.feed(feed).entries == []  # empty but valid: no 404 for subscribers
    # Emptied now, and so it stays: not 1970 (implausible to validators), not each build's time.
    assert project.feed("languages/en.atom").feed.updated.startswith(NOW.date().isoformat())
    outputs = project.outputs()
    build(project.config, now=NOW + timedelta(days=1))
    assert project.outputs() == outputs


def test_bad_files_are_rejected_without_harming_the_others(project):
    project.seed("fr.txt", FR)
    project.seed("bad-date.txt", "date 2026-13-45 Texte.")
    project.seed("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    project.seed("empty.md", b"")
    result = build(project.config, now=NOW)
    reasons = {r.path: r.reason for r in result.sync.rejected}
    assert set(reasons) == {"bad-date.txt", "image.txt", "empty.md"}
    assert len(ids(project, "all.atom")) == 1
    with Index(project.config.index_path) as index:
        assert dict(index.rejected())["bad-date.txt"].startswith("bad date")
    # The same bad bytes are not reported again; fixed ones are published.
    assert build(project.config, now=NOW).sync.rejected == []
    project.seed("bad-date.txt", "date 2026-03-15 Texte corrigé avec assez de mots pour une langue.")
    build(project.config, now=NOW)
    assert len(ids(project, "all.atom")) == 2


def test_future_documents_wait_for_their_time(project):
    project.seed("later.txt", "title: Later\ndate: 2026-12-01T08:00:00Z\n\nKiev will host a summit on that day.")
    build(project.config, now=NOW)
    assert ids(project, "all.atom") == []
    assert not any((project.feeds / "articles").glob("*.html"))
    build(project.config, now=datetime(2026, 12, 1, 8, tzinfo=timezone.utc))
    assert len(ids(project, "all.atom")) == 1
    assert len(list((project.feeds / "articles").glob("*.html"))) == 1


def test_max_items_bounds_every_feed(project):
    project.write_config(project.root.joinpath("feedd.toml").read_text() + "\n[feeds]\nmax_items = 3\n")
    for n in range(1, 8):
        project.seed(f"{n}.txt", f" date 2026-03-0{n} Zelensky a parlé à Kiev le {n} mars devant la presse.")
    build(project.config, now=NOW)
    entries = project.feed("all.atom").entries
    assert [e.published[:10] for e in entries] == ["2026-03-07", "2026-03-06", "2026-03-05"]


def test_new_topic_rules_retag_existing_documents(project):
    project.seed("en.txt", EN)
    build(project.config, now=NOW)
    project.write_config(project.root.joinpath("feedd.toml").read_text()
                         + '\n[topics.navy]\ntitle = "Navy"\nkeywords = ["navy"]\n')
    build(project.config, now=NOW)
    assert len(ids(project, "topics/navy.atom")) == 1


def test_only_real_seed_files_inside_seeds_are_read(project, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("Kiev secret text that must never be published anywhere at all.")
    project.seed("fr.txt", FR)
    project.seed(".hidden.txt", FR)
    project.seed(".git/x.txt", FR)
    for leftover in (".#fr.txt", "fr.txt~", "fr.txt.swp", "a.tmp", "b.txt.part", "notes.doc"):
        project.seed(leftover, FR)
    (project.seeds / "x.txt").mkdir()
    (project.seeds / "link-out.txt").symlink_to(outside)
    (project.seeds / "link-in.txt").symlink_to(project.seeds / "fr.txt")
    (project.seeds / "loop.txt").symlink_to(project.seeds / "loop.txt")
    os.mkfifo(project.seeds / "pipe.txt")
    result = build(project.config, now=NOW)
    assert sorted(result.sync.added) == ["fr.txt", "link-in.txt"]
    assert "secret" not in (project.feeds / "all.atom").read_text()


def test_identical_files_are_two_documents(project):
    project.seed("a.txt", FR)
    project.seed("b.txt", FR)
    build(project.config, now=NOW)
    assert len(set(ids(project, "all.atom"))) == 2


def test_no_temporary_files_are_left_behind(project):
    project.seed("fr.txt", FR)
    build(project.config, now=NOW)
    # Hidden files are the two map files of retired and renamed feeds, and nothing else.
    assert sorted(p.name for p in project.feeds.rglob(".*")) == sorted([GONE_MAP, MOVED_MAP])


def test_a_renamed_file_keeps_its_id_when_the_index_is_lost_too(project):
    """Rename, lose the state folder, build: the article pages said which id these bytes had."""
    project.seed("fr.txt", FR, mtime=T0)
    project.seed("sub/en.txt", EN, mtime=T0)
    build(project.config, now=NOW)
    first = sorted(ids(project, "all.atom"))
    os.rename(project.seeds / "fr.txt", project.seeds / "renamed.txt")
    build(project.config, now=NOW)
    assert sorted(ids(project, "all.atom")) == first
    before = project.outputs()
    shutil.rmtree(project.root / ".feedd")
    result = build(project.config, now=NOW)
    assert sorted(ids(project, "all.atom")) == first
    assert result.sync.added == ["renamed.txt", "sub/en.txt"]
    assert project.outputs() == before  # ids, dates and pages: every byte as it was


def test_an_edited_renamed_file_keeps_its_id_and_its_updated_after_a_lost_index(project):
    path = project.seed("fr.txt", FR, mtime=T0)
    build(project.config, now=NOW)
    first = ids(project, "all.atom")
    moved = project.seeds / "ukraine" / "moved.txt"
    moved.parent.mkdir()
    os.rename(path, moved)
    build(project.config, now=NOW)
    moved.write_text(FR.replace("dimanche", "lundi"), encoding="utf-8")
    os.utime(moved, (T0 + 60, T0 + 60))
    build(project.config, now=NOW)
    edited = project.feed("all.atom").entries[0]
    shutil.rmtree(project.root / ".feedd")
    build(project.config, now=NOW)
    again = project.feed("all.atom").entries[0]
    assert [again.id] == first and (again.updated, again.published) == (edited.updated, edited.published)


def test_a_packed_scan_unpacks_to_the_seeds_it_was_made_of(tmp_path):
    from feedd.scan import pack, scan, unpack

    for name in ("a.txt", "line\nbreak.txt", "tab\tand space .md", "été/Ωμέγα 0.txt", "deep/er/z.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x" * len(name), encoding="utf-8")
    seeds = list(scan(tmp_path))
    assert len(seeds) == 5
    assert list(unpack("".join(pack(seed) for seed in seeds))) == seeds
    assert list(unpack("")) == []


def test_a_scan_taken_earlier_leaves_to_the_drains_what_changed_since(project):
    """The daemon scans seeds/ at start-up while drops are read (feedd.daemon): the catch-up from
    that scan leaves the paths the watcher saw since to the drains. A file dropped after the scan
    is not taken for deleted, one deleted after it is not read again, and a folder moved in stands
    for the files under it."""
    from feedd.reconcile import survey, sync
    from feedd.scan import unpack

    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    project.seed("a.txt", " date 2026-03-08 Zelensky a parlé à Kiev dimanche devant la presse.")
    project.seed("b.txt", " date 2026-03-09 Zelensky a parlé à Kiev lundi devant la presse.")
    build(project.config, now=now)
    project.seed("f.txt", " date 2026-03-12 Zelensky a parlé à Kiev jeudi devant la presse.")  # while stopped
    found = survey(project.seeds, project.config.index_path)  # as the daemon hands it over
    assert found.changed == ("f.txt",)
    project.seed("c.txt", " date 2026-03-10 Zelensky a parlé à Kiev mardi devant la presse.")
    (project.seeds / "b.txt").unlink()
    project.seed("d/e.txt", " date 2026-03-11 Zelensky a parlé à Kiev mercredi devant la presse.")
    touched = {"b.txt", "c.txt", "d"}  # as the watcher records them
    with Index(project.config.index_path) as index:
        drained = sync(project.config, index, now, paths=sorted(touched))
        assert sorted(drained.added) == ["c.txt", "d/e.txt"] and drained.removed == ["b.txt"]
        for paths in (found.changed, None):  # the survey's paths, or all of the scan
            report = sync(project.config, index, now, paths=paths, busy=touched, scanned=unpack(found.packed))
            assert report.added == (["f.txt"] if paths else [])  # read by the first, found as it is by the second
            assert not (report.updated or report.removed or report.moved), report.summary()
        assert sorted(index.file_states()) == ["a.txt", "c.txt", "d/e.txt", "f.txt"]


def test_a_survey_names_what_the_index_does_not_hold_as_it_is(project):
    """A daemon's start-up compares seeds/ with the index in a worker (feedd.reconcile.survey), read-only
    while the daemon holds it as its writer: new, changed and gone files are named, in the scan's
    order and then the gone ones; files as the index holds them, and rejected ones with the same
    bytes, are not."""
    from feedd.reconcile import survey
    from feedd.scan import scan, unpack

    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    for name in ("a", "b", "c", "d"):
        project.seed(f"{name}.txt", f" date 2026-03-08 Zelensky a parlé à Kiev ({name}) devant la presse.")
    project.seed("empty.txt", "")
    build(project.config, now=now)
    project.seed("b.txt", " date 2026-03-09 Zelensky a parlé à Kiev de nouveau devant la presse, longuement.")
    (project.seeds / "c.txt").unlink()
    project.seed("0.txt", " date 2026-03-10 Zelensky a parlé à Kiev mardi devant la presse.")
    with Index(project.config.index_path, writer=True):
        found = survey(project.seeds, project.config.index_path)
    assert found.changed == ("0.txt", "b.txt", "c.txt")
    assert list(unpack(found.packed)) == list(scan(project.seeds))


def test_a_survey_of_an_index_it_cannot_read_compares_nothing(project, caplog):
    from feedd.reconcile import survey

    project.seed("a.txt", " date 2026-03-08 Zelensky a parlé à Kiev dimanche devant la presse.")
    assert survey(project.seeds, project.config.index_path).changed is None  # no index yet
    assert "not compared with seeds/ ahead" in caplog.text


def test_a_report_joined_to_another_says_what_both_did():
    """A daemon's drain joins the rest of a burst into its publish (feedd.daemon): nothing either run
    did may be lost from the plan or the log line."""
    from dataclasses import fields

    from feedd.model import Rejected
    from feedd.reconcile import SyncReport

    first = SyncReport(added=["a.txt"], removed=["gone.txt"], unchanged=2, feeds={"all", "topics/x"},
                       keys={"a"}, gone_pages={"gone"})
    second = SyncReport(added=["b.txt"], updated=["c.txt"], moved=[("d.txt", "e.txt")],
                        rejected=[Rejected("f.txt", "empty")], drafts=["g.md"], unchanged=1, deferred=3,
                        feeds={"all", "languages/fr"}, keys={"b", "c"}, gone_pages={"old"})
    first.add(second)
    assert first == SyncReport(added=["a.txt", "b.txt"], updated=["c.txt"], moved=[("d.txt", "e.txt")],
                               removed=["gone.txt"], rejected=second.rejected, drafts=["g.md"], unchanged=3,
                               deferred=3, feeds={"all", "topics/x", "languages/fr"}, keys={"a", "b", "c"},
                               gone_pages={"gone", "old"})
    assert {f.name for f in fields(SyncReport)} == {"added", "updated", "moved", "removed", "rejected", "drafts",
                                                    "unchanged", "deferred", "feeds", "keys", "gone_pages"}


def _loaded_already() -> dict[str, int]:
    """In a worker: what it found loaded when it started (each a memo of one entry)."""
    import sys

    from feedd import langmodel, render

    return {"language model": langmodel.model.cache_info().currsize,
            "templates": render._templates.cache_info().currsize,
            "lemmatiser": int("simplemma" in sys.modules)}


def test_workers_forked_from_the_forkserver_start_with_the_model_and_templates_loaded():
    """Loaded once in the forkserver (feedd.preload), not again by each worker of each batch:
    a burst's first batch waited ~0.2 s for them."""
    from feedd.workers import apart

    assert apart(_loaded_already).result(timeout=60) == {"language model": 1, "templates": 1, "lemmatiser": 1}


def test_a_survey_run_apart_is_the_survey_run_here(project):
    """The daemon surveys seeds/ in a worker forked from its forkserver (feedd.workers.apart): another
    process, the same answer."""
    from feedd.reconcile import survey
    from feedd.workers import apart

    for n in range(5):
        project.seed(f"d{n}/{n}.txt", f" date 2026-03-08 Zelensky a parlé à Kiev {n} fois devant la presse.")
    build(project.config, now=datetime(2026, 11, 24, 12, tzinfo=timezone.utc))
    project.seed("d9/new.txt", " date 2026-03-09 Zelensky a parlé à Kiev dimanche devant la presse.")
    assert apart(os.getpid).result(timeout=60) != os.getpid()
    here = survey(project.seeds, project.config.index_path)
    assert apart(survey, project.seeds, project.config.index_path).result(timeout=60) == here
    assert here.changed == ("d9/new.txt",) and here.packed.count("\0") == 18
