"""Drafts: front matter copied from Hugo, Jekyll or Pelican holds a file back from every feed and page."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from conftest import TOML, Project, wait_for
from test_build import NOW
from test_cli import feedd

from feedd.build import build
from feedd.document import parse
from feedd.index import Index

BODY = "Zelensky a parlé à Kiev dimanche devant la presse, puis il a rencontré les ministres."


@pytest.mark.parametrize("marker", ["draft: true", "draft: yes", "published: false", "status: draft",
                                    "status: hidden", "Status: Draft", 'draft: "true"'])
def test_each_tools_draft_marker_holds_a_file_back(marker):
    for text in (f"title: T\n{marker}\n\n{BODY}", f"---\ntitle: T\n{marker}\n---\n{BODY}"):
        key, value = marker.split(": ")
        assert parse(text.encode(), "a.txt", ZoneInfo("UTC")).draft == f"{key.lower()}: {value}"


@pytest.mark.parametrize("header", ["draft: false", "published: true", "status: published", "title: Draft"])
def test_other_values_publish(header):
    assert parse(f"{header}\n\n{BODY}".encode(), "a.txt", ZoneInfo("UTC")).draft is None


def feed_ids(project, name="all.atom") -> list[str]:
    return [entry.id for entry in project.feed(name).entries]


def every_feed_mentions(project, needle: str) -> list[str]:
    return [str(p.relative_to(project.feeds)) for p in project.feeds.rglob("*")
            if p.is_file() and needle.encode() in p.read_bytes()]


def test_a_draft_is_nowhere_until_its_marker_goes_then_keeps_its_id(project):
    project.seed("published.txt", f" date 2026-03-08 {BODY}")
    draft = project.seed("draft.txt", "title: Projet secret\ndate: 2026-03-09\ndraft: true\n\n" + BODY)
    result = build(project.config, now=NOW)
    assert result.sync.drafts == ["draft.txt"] and not result.sync.rejected
    assert len(feed_ids(project)) == 1
    assert every_feed_mentions(project, "Projet secret") == []  # no feed, no page, no OPML, no index page
    with Index(project.config.index_path) as index:
        assert index.drafts() == [("draft.txt", "draft: true")] and index.rejected() == []
        assert index.counts(NOW)["drafts"] == 1
    assert build(project.config, now=NOW).sync.drafts == []  # said once

    draft.write_text("title: Projet secret\ndate: 2026-03-09\n\n" + BODY, encoding="utf-8")
    build(project.config, now=NOW)
    ids = feed_ids(project)
    assert len(ids) == 2 and every_feed_mentions(project, "Projet secret")
    first_id = next(e.id for e in project.feed("all.atom").entries if e.title == "Projet secret")

    # Back to draft: out of every feed and its page taken down, like a deletion...
    draft.write_text("title: Projet secret\ndate: 2026-03-09\nstatus: hidden\n\n" + BODY, encoding="utf-8")
    assert build(project.config, now=NOW).sync.drafts == ["draft.txt"]
    assert every_feed_mentions(project, "Projet secret") == []
    assert len(feed_ids(project)) == 1
    # ...and published again, with the same id.
    draft.write_text("title: Projet secret\ndate: 2026-03-09\nstatus: published\n\n" + BODY, encoding="utf-8")
    build(project.config, now=NOW)
    assert next(e.id for e in project.feed("all.atom").entries if e.title == "Projet secret") == first_id


def test_a_draft_with_its_own_id_is_published_with_it(project):
    header = "title: T\ndate: 2026-03-09\nid: urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66\n"
    path = project.seed("d.txt", header + "draft: yes\n\n" + BODY)
    build(project.config, now=NOW)
    assert feed_ids(project) == []
    path.write_text(header + "\n" + BODY, encoding="utf-8")
    build(project.config, now=NOW)
    assert feed_ids(project) == ["urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"]


def test_list_check_and_healthz_show_drafts(tmp_path, start_daemon):
    project = Project(tmp_path / "site", TOML)
    project.seed("ok.txt", f" date 2026-03-08 {BODY}")
    path = project.seed("wip.md", f"---\ntitle: Work in progress\nstatus: draft\n---\n{BODY}")
    assert "1 held back as drafts" in feedd("build", "--root", project.root).stdout
    assert "draft      wip.md: status: draft" in feedd("list", "--root", project.root).stdout
    lines = [json.loads(line) for line in feedd("list", "--root", project.root, "--json").stdout.splitlines()]
    assert {"path": "wip.md", "state": "draft", "marker": "status: draft"} in lines
    assert json.loads(feedd("check", "--root", project.root, path).stdout)["draft"] == "status: draft"
    daemon = start_daemon(project.root)
    health = wait_for(lambda: (body := json.loads(daemon.get("/healthz")[2]))["last_build"] and body,
                      message="the first build in /healthz")
    assert health["drafts"] == 1 and health["rejected"] == 0
    assert health["draft_files"] == [{"path": "wip.md", "marker": "status: draft"}]
    assert daemon.stop() == 0
