"""Every kind of bad input, through ``feedd build`` and through the running daemon.

Each case ends published correctly or rejected with a one-line reason naming
the file (in the log, ``feedd list`` and ``/healthz``), or is ignored when it
is not a seed at all; either way every other document and every feed stays
intact and valid.
"""

import json
import os
import subprocess
import sys

import pytest

from badinput.cases import CASES, EITHER, IGNORED, PUBLISHED, REJECTED, SIZE_LIMIT, write_corpus
from conftest import TOML, Project, parse_feed, unprivileged, wait_for
from feedd.model import shown_path

CONFIG = TOML + f"""
[input]
max_bytes = {SIZE_LIMIT}

[feeds]
max_items = 200

[daemon]
settle_seconds = 0.1
"""
PREFIX = unprivileged()
SEEN = [case for case in CASES if case.expected != IGNORED]


def feedd(*args, cwd=None):
    result = subprocess.run([*(PREFIX or ()), sys.executable, "-m", "feedd", *map(str, args)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def listing(root) -> dict[str, dict]:
    rows = [json.loads(line) for line in feedd("list", "--root", root, "--json").stdout.splitlines()]
    return {row["path"]: row for row in rows}


def check(project, log: str) -> dict[str, str]:
    """Compare every case with what became of it; return the outcome table."""
    rows = listing(project.root)
    feeds = {}
    for path in sorted(project.feeds.rglob("*")):
        if path.suffix in (".atom", ".rss"):
            feeds[path.name] = parse_feed(path.read_bytes())  # every feed stays valid
    entries = {e.id: e for e in parse_feed((project.feeds / "all.atom").read_bytes()).entries}
    outcomes = {}
    for case in CASES:
        row = rows.get(case.path)
        state = row["state"] if row else IGNORED
        outcomes[case.name] = state if state != REJECTED else f"rejected: {row['error']}"
        if case.expected == EITHER:
            assert state in (PUBLISHED, REJECTED), case.name
        else:
            assert state == case.expected, f"{case.name}: expected {case.expected}, got {state} {row}"
        if state == REJECTED:
            reason = row["error"]
            assert reason and "\n" not in reason, case.name
            assert f"rejected {shown_path(case.path)}: {reason}" in log, f"{case.name}: not in the log"
        if state == PUBLISHED:
            entry = entries[row["id"]]
            shown = entry.title + entry.get("summary", "") + "".join(c.value for c in entry.get("content", []))
            for text in case.must_contain:
                assert text in shown, f"{case.name}: {text!r} not shown"
    secret = b"SECRET"
    assert not any(secret in p.read_bytes() for p in project.feeds.rglob("*") if p.is_file())
    return outcomes


@pytest.fixture
def corpus_project(tmp_path):
    if PREFIX is None:
        pytest.skip("running as root without setpriv: an unreadable file would be read anyway")
    project = Project(tmp_path / "site", CONFIG)
    project.feeds.mkdir()
    os.chmod(tmp_path, 0o755)
    return project


def test_bad_input_through_feedd_build(corpus_project, tmp_path):
    project = corpus_project
    write_corpus(project.seeds, tmp_path / "outside")
    result = feedd("build", "--root", project.root)
    outcomes = check(project, result.stdout)
    assert len(CASES) >= 40
    published = [name for name, state in outcomes.items() if state == PUBLISHED]
    assert len(published) >= 25
    # The same corpus again: nothing new is said, nothing rewritten.
    again = feedd("build", "--root", project.root)
    assert not [line for line in again.stdout.splitlines() if line.startswith("rejected ")]
    assert " 0 files written" in again.stdout


def test_bad_input_through_the_daemon(corpus_project, tmp_path, start_daemon):
    project = corpus_project
    daemon = start_daemon(project.root, prefix=PREFIX)
    write_corpus(project.seeds, tmp_path / "outside")
    def settled():
        health = json.loads(daemon.get("/healthz")[2])
        done = health["documents"] + health["embargoed"] + health["rejected"] == len(SEEN) and not health["pending"]
        return health if done else None

    health = wait_for(settled, timeout=60, message="every case to be handled")
    assert len(listing(project.root)) == len(SEEN)
    check(project, daemon.log())
    reasons = {item["path"]: item["reason"] for item in health["rejected_files"]}
    assert reasons["baddate.txt"].startswith("bad date '2026-13-45'")
    assert reasons["noperm.txt"] == "cannot read: Permission denied"

    # Files the daemon alone can meet: gone before it reads them, emptied and rewritten.
    before = len(listing(project.root))
    (project.seeds / "flash.txt").write_text(" date 2026-03-08 Éphémère, lu ou pas, peu importe vraiment ici.")
    (project.seeds / "flash.txt").unlink()
    (project.seeds / "bom.txt").write_bytes(b"")
    (project.seeds / "bom.txt").write_text(" date 2026-03-09 Réécrit après une troncature complète du fichier.")
    wait_for(lambda: listing(project.root)["bom.txt"]["state"] == PUBLISHED
             and listing(project.root)["bom.txt"]["published"].startswith("2026-03-09"), message="the rewrite")
    rows = listing(project.root)
    assert "flash.txt" not in rows and len(rows) == before
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0
