"""Retired feeds answer 410 Gone, renamed topics 301, in feedd's server (nginx: tests/test_deploy.py)."""

from __future__ import annotations

import http.client

import pytest

from conftest import TOML, Project, parse_feed
from feedd.build import build
from feedd.config import ConfigError
from feedd.feeds import GONE_MAP, MOVED_MAP
from feedd.serve import FeedServer
from test_build import FR, NOW

AUTHORED = "title: Drones\nauthor: Ada Lovelace\ndate: 2026-03-09\n\nNaval drones patrolled the coast near Kyiv.\n"


@pytest.fixture
def server(project):
    project.seed("fr.txt", FR)
    project.seed("en.txt", AUTHORED)
    build(project.config, now=NOW)
    served = FeedServer(project.feeds, "127.0.0.1", 0)
    served.start()
    yield served
    served.stop()


def get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        conn.close()


def test_a_topic_removed_from_the_rules_is_gone(project, server):
    assert get(server, "/topics/defense.atom")[0] == 200
    assert get(server, "/topics/defense/fr.rss")[0] == 200
    project.write_config(TOML.split("[topics.defense]")[0])
    build(project.config, now=NOW)
    for path in ("/topics/defense.atom", "/topics/defense.rss", "/topics/defense.json", "/topics/defense.html",
                 "/topics/defense/fr.atom", "/topics/defense/fr.html"):
        assert get(server, path)[0] == 410, path
        assert not (project.feeds / path[1:]).exists()
    assert get(server, "/topics/nothing.atom")[0] == 404  # never published: not found, not gone
    assert get(server, "/topics/ukraine.atom")[0] == 200
    assert b"topics/defense" not in (project.feeds / "feeds.opml").read_bytes()
    assert b"topics/defense" not in (project.feeds / "index.html").read_bytes()
    assert "/topics/defense.atom 1;" in (project.feeds / GONE_MAP).read_text()
    # A rule that comes back brings its feeds back.
    project.write_config(TOML)
    build(project.config, now=NOW)
    assert get(server, "/topics/defense.atom")[0] == 200


def test_a_renamed_topic_redirects_each_of_its_feeds(project, server):
    old_ids = [entry.id for entry in project.feed("topics/ukraine.atom").entries]
    project.write_config(TOML.replace("[topics.ukraine]", '[topics.ukraine-war]\nformerly = ["ukraine"]'))
    build(project.config, now=NOW)
    expected = {"/topics/ukraine.atom": "/topics/ukraine-war.atom", "/topics/ukraine.rss": "/topics/ukraine-war.rss",
                "/topics/ukraine.json": "/topics/ukraine-war.json", "/topics/ukraine.html": "/topics/ukraine-war.html",
                "/topics/ukraine/fr.atom": "/topics/ukraine-war/fr.atom"}
    for old, new in expected.items():
        status, location, _ = get(server, old)
        assert (status, location) == (301, new), old
        assert f"{old} {new};" in (project.feeds / MOVED_MAP).read_text()
    status, _, body = get(server, "/topics/ukraine-war.atom")
    assert status == 200 and [entry.id for entry in parse_feed(body).entries] == old_ids  # same entries, same ids


def test_a_kind_switched_off_is_gone(project, server):
    assert get(server, "/authors/ada-lovelace.atom")[0] == 200
    project.write_config(TOML + "\n[feeds]\nauthors = false\n")
    build(project.config, now=NOW)
    assert get(server, "/authors/ada-lovelace.atom")[0] == 410
    assert get(server, "/authors/ada-lovelace.html")[0] == 410


def test_a_former_slug_must_not_be_a_topic_too(tmp_path):
    toml = TOML.replace("[topics.ukraine]", '[topics.ukraine]\nformerly = ["defense"]')
    with pytest.raises(ConfigError, match="topics.ukraine.formerly names 'defense', which is a topic already"):
        Project(tmp_path / "site", toml).config
