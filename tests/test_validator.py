"""The W3C Feed Validator (its public source, in ../shared/tools) over every Atom and RSS file.

Thunderbird treats the validator's warnings as errors, so a build must give
neither: on a news day where twenty articles in many languages share a date,
archive pages included, and again after edits, a rename and a deletion.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import newsday
from conftest import SHARED, TOML
from feedd.build import build

VALIDATE = SHARED / "tools" / "validate-feeds"
NOW = datetime(2026, 3, 12, 12, tzinfo=timezone.utc)
BASE = "http://example.test/news/"  # the base_url of conftest's TOML: self links are checked against it
SMALL_FEEDS = "\n[feeds]\nmax_items = 6\narchive_page_size = 10\n"  # archive pages, some closed


def validate(feeds_dir) -> tuple[int, str]:
    if not VALIDATE.exists():
        pytest.fail(f"the W3C validator runner is missing: {VALIDATE}")
    run = subprocess.run([sys.executable, str(VALIDATE), "--base", BASE, str(feeds_dir)],
                         capture_output=True, text=True, timeout=600)
    return run.returncode, run.stdout + run.stderr


def assert_valid(project) -> str:
    code, report = validate(project.feeds)
    assert code == 0, report
    summary = report.strip().splitlines()[-1]
    assert " 0 errors, 0 warnings" in summary, report
    return summary


def test_a_news_day_validates_with_no_error_and_no_warning(project):
    project.write_config(TOML + SMALL_FEEDS)
    paths = newsday.write(project.seed)
    build(project.config, now=NOW)
    summary = assert_valid(project)
    archives = list(project.feeds.glob("**/archive/*.atom"))
    assert archives, "the corpus is meant to fill archive pages"
    assert int(summary.split()[1]) > 40  # every feed, both formats, archives

    # Edits (one twice within a second), a rename and a deletion: still nothing to say.
    for name in paths[:3]:
        path = project.seeds / name
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + " Mise à jour.\n", encoding="utf-8")
    os.rename(project.seeds / paths[3], project.seeds / "renamed.txt")
    (project.seeds / paths[4]).unlink()
    build(project.config, now=NOW)
    assert_valid(project)


def test_articles_of_one_day_written_in_one_second_get_distinct_updated(project):
    """Files unpacked from a tar or a git checkout may share their modification time too."""
    project.write_config(TOML + SMALL_FEEDS)
    moment = datetime(2026, 3, 10, 8, tzinfo=timezone.utc).timestamp()
    for name in newsday.write(project.seed):
        os.utime(project.seeds / name, (moment, moment))
    build(project.config, now=NOW)
    updated = [entry.updated for entry in project.feed("all.atom").entries]
    archived = [entry.updated for page in sorted(project.feeds.glob("all/archive/*.atom"))
                for entry in project.feed(str(page.relative_to(project.feeds))).entries]
    everything = updated + archived
    assert len(everything) == 20 and len(set(everything)) == 20
    assert_valid(project)
