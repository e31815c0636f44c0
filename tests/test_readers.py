"""Real feed readers over a site's whole life: newsboat and rss2email (Debian's packages).

Publish → edit → rename → draft → un-draft → delete → lost index → rebuild:
every article reaches each reader exactly once, and an edit updates it in place.
"""

from __future__ import annotations

import email
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import newsday
from conftest import TOML
from feedd.build import build
from feedd.serve import FeedServer
from test_build import NOW

pytestmark = pytest.mark.skipif(not (shutil.which("newsboat") and shutil.which("r2e")),
                                reason="needs newsboat and rss2email (.ci/run installs them)")

ARTICLES = ("fr-kiev.txt", "de-duerre.txt", "en-drones.txt")


class Newsboat:
    """newsboat -x reload, headless; its exit code is always 0, so its log and cache are read."""

    def __init__(self, home: Path, urls: list[str]):
        self.home = home
        home.mkdir()
        (home / "urls").write_text("".join(url + "\n" for url in urls))
        (home / "config").write_text("")

    def reload(self) -> None:
        log = self.home / "log.txt"
        subprocess.run(["newsboat", "-u", str(self.home / "urls"), "-c", str(self.home / "cache.db"),
                        "-C", str(self.home / "config"), "-x", "reload", "-l", "4", "-d", str(log)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True)
        errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
        assert not errors, errors

    def items(self) -> dict[str, str]:
        """guid → content of every item newsboat keeps (one per guid, whichever feed brought it)."""
        with sqlite3.connect(self.home / "cache.db") as db:
            rows = db.execute("SELECT guid, content FROM rss_item").fetchall()
        assert len(rows) == len({guid for guid, _ in rows}), "an item twice"
        return dict(rows)


class Rss2email:
    """r2e run, mailing through a sendmail stand-in that files each message."""

    def __init__(self, home: Path, url: str):
        self.home = home
        self.mail = home / "mail"
        self.mail.mkdir(parents=True)
        sink = home / "sendmail"
        sink.write_text(f'#!/bin/sh\ncat > "$(mktemp -p {self.mail} message.XXXXXX)"\n')
        sink.chmod(0o755)
        (home / "r2e.cfg").write_text(
            "[DEFAULT]\nto = reader@example.test\nfrom = feedd@example.test\n"
            f"email-protocol = sendmail\nsendmail = {sink}\n")
        self.r2e("add", "site", url)

    def r2e(self, *args: str) -> None:
        run = subprocess.run(["r2e", "-c", str(self.home / "r2e.cfg"), "-d", str(self.home / "r2e.json"), *args],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr

    def run(self) -> None:
        self.r2e("run")

    def ids(self) -> list[str]:
        """The entry id of every message sent so far."""
        return sorted(email.message_from_bytes(path.read_bytes())["X-RSS-ID"] for path in self.mail.iterdir())


def test_each_article_reaches_each_reader_once_over_a_sites_life(project, tmp_path):
    project.write_config(TOML)
    for name, text in {**newsday.CANONICAL, **newsday.WITH_HEADERS}.items():
        if name in ARTICLES:
            project.seed(name, f" date {newsday.DAY} {text}\n" if name in newsday.CANONICAL else text + "\n")
    server = FeedServer(project.feeds, "127.0.0.1", 0)
    server.start()
    try:
        base = server.url
        newsboat = Newsboat(tmp_path / "newsboat", [base + "all.atom", base + "topics/ukraine.rss"])
        mailer = Rss2email(tmp_path / "r2e", base + "all.rss")

        def step() -> tuple[dict, list[str]]:
            build(project.config, now=NOW)
            newsboat.reload()
            mailer.run()
            return newsboat.items(), mailer.ids()

        items, mailed = step()  # publish
        ids = set(items)
        assert len(ids) == 3 and sorted(ids) == mailed
        fr_id = next(guid for guid, content in items.items() if "Zelensky" in content)

        fr = project.seeds / "fr-kiev.txt"  # edit: the same item, its new text
        fr.write_text(fr.read_text(encoding="utf-8").replace("drones", "drones intercepteurs"), encoding="utf-8")
        items, mailed = step()
        assert set(items) == ids and mailed == sorted(ids)
        assert "intercepteurs" in items[fr_id]

        os.rename(project.seeds / "de-duerre.txt", project.seeds / "renamed.txt")  # rename
        assert step() == (items, mailed)

        en = project.seeds / "en-drones.txt"  # draft: out of the feeds; readers keep what they have
        published = en.read_text(encoding="utf-8")
        en.write_text("draft: true\n" + published, encoding="utf-8")
        assert step() == (items, mailed)
        en.write_text(published, encoding="utf-8")  # un-draft: the same id, no second mail
        assert step() == (items, mailed)

        fr.unlink()  # delete
        assert step() == (items, mailed)

        shutil.rmtree(project.root / ".feedd")  # lost index, rebuild
        items_after, mailed_after = step()
        assert set(items_after) == ids and mailed_after == sorted(ids)
    finally:
        server.stop()
