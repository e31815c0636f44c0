"""The CLI as users run it: real subprocesses on a real project folder."""

import json
import subprocess
import sys

import pytest

from conftest import TOML, Project

COMMANDS = ["init", "build", "check", "list", "run"]


def feedd(*args, cwd=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "feedd", *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    out = feedd(command, "--help").stdout
    assert "--root" in out and len(out.splitlines()) > 3


def test_topics_suggest_has_help():
    assert "--docs" in feedd("topics", "suggest", "--help").stdout


def test_top_level_help_lists_every_command():
    out = feedd("--help").stdout
    for command in COMMANDS:
        assert command in out


def test_init_then_build_then_list(tmp_path):
    root = tmp_path / "site"
    assert "wrote" in feedd("init", root).stdout
    assert (root / "feedd.toml").is_file() and (root / "seeds").is_dir()
    refused = feedd("init", root, check=False)  # never overwrites silently
    assert refused.returncode == 2 and refused.stderr.startswith("feedd: error: ") and len(refused.stderr.splitlines()) == 1
    (root / "seeds" / "a.txt").write_text(" date 2026-03-08 An example article about an example, in English.")
    out = feedd("build", "--root", root).stdout
    assert out.startswith("1 added")
    assert (root / "feeds" / "topics" / "example.atom").is_file()
    listing = feedd("list", "--root", root).stdout
    assert "a.txt" in listing and "example" in listing
    rows = [json.loads(line) for line in feedd("list", "--root", root, "--json").stdout.splitlines()]
    assert rows[0]["state"] == "published" and rows[0]["topics"] == ["example"]


@pytest.mark.parametrize("command", [("list",), ("list", "--json"), ("topics", "suggest")])
def test_no_index_yet_is_the_same_one_line_error_in_every_command(tmp_path, command):
    root = tmp_path / "site"
    feedd("init", root)
    result = feedd(*command, "--root", root, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"feedd: error: no index yet at {root / '.feedd' / 'index.sqlite3'}: run feedd build first\n"
    assert not (root / ".feedd" / "index.sqlite3").exists()  # asking does not create one


def test_check_of_a_missing_file_is_a_one_line_error(tmp_path):
    root = tmp_path / "site"
    feedd("init", root)
    result = feedd("check", "--root", root, root / "seeds" / "nope.txt", check=False)
    assert (result.returncode, result.stderr) == (2, f"feedd: error: {root / 'seeds' / 'nope.txt'}: no such file\n")


def test_build_lists_rejections_and_still_succeeds(tmp_path):
    project = Project(tmp_path / "site", TOML)
    project.seed("good.txt", " date 2026-03-08 Zelensky a parlé à Kiev dimanche devant la presse.")
    project.seed("bad.txt", "date 2026-02-30 Février n'a pas trente jours.")
    result = feedd("build", "--root", project.root)
    assert "rejected bad.txt: bad date '2026-02-30'" in result.stdout
    listing = feedd("list", "--root", project.root).stdout
    assert "rejected   bad.txt: bad date" in listing


def test_check_prints_json(tmp_path):
    project = Project(tmp_path / "site", TOML)
    path = project.seed("ukraine/a.txt", " date 2026-03-08 Zelensky a parlé à Kiev dimanche devant la presse.")
    report = json.loads(feedd("check", "--root", project.root, path).stdout)
    assert report["language"] == "fr"
    assert [t["slug"] for t in report["topics"]] == ["ukraine"]
    assert report["date"] == "2026-03-08T00:00:00+00:00"
    assert report["id"].startswith("tag:example.test,2026:a-")
    # Once indexed, check reports the id the index gave it.
    feedd("build", "--root", project.root)
    assert json.loads(feedd("check", "--root", project.root, path).stdout)["id"] == report["id"]


def test_check_explains_each_topic_decision(tmp_path):
    project = Project(tmp_path / "site", TOML + """
[topics.energy]
title = "Energy"
keywords = ["power plant"]
exclude = ["Ukrainefest"]
""")
    path = project.seed("war/a.txt", " date 2026-03-08 Two drones hit a power plant near Kyiv overnight. "
                                     "A drone also fell on the Ukrainefest stage.")
    report = json.loads(feedd("check", "--root", project.root, path).stdout)
    because = {t["slug"]: t["because"] for t in report["topics"]}
    assert because["war"] == "the folder the file is in"
    assert because["defense"]["rule"] == "[topics.defense]"
    assert because["defense"]["hits"] == 2  # "drones" and "drone": the keywords "drone" and "drones" on one word count once
    assert {"keyword": "drone", "count": 2, "words": ["drones", "drone"]} in because["defense"]["matched"]
    assert because["ukraine"]["matched"] == [{"keyword": "Kyiv", "count": 1, "words": ["Kyiv"]}]
    [energy] = report["rules_not_applied"]
    assert energy["rule"] == "[topics.energy]"
    assert energy["excluded_by"] == [{"keyword": "Ukrainefest", "words": ["Ukrainefest"]}]


def test_topics_suggest_prints_uncovered_key_phrases_per_language(tmp_path):
    project = Project(tmp_path / "site", TOML)
    english = [
        "Scientists warned on Monday that pollution in Lake Baikal has reached record levels, and a drone survey confirmed it.",
        "Fishermen on Lake Baikal say the pollution has emptied their nets; drones now patrol the shore.",
        "A new report on Lake Baikal blames paper mills for the pollution of the deepest lake on Earth.",
    ]
    french = [
        "La réforme des retraites sera débattue mardi à l'Assemblée nationale, a annoncé le gouvernement.",
        "Les syndicats appellent à manifester contre la réforme des retraites partout en France jeudi.",
        "La réforme des retraites divise encore la majorité, selon un sondage publié dimanche.",
    ]
    for i, text in enumerate(english + french):
        project.seed(f"{i}.txt", f" date 2026-03-0{i + 1} {text}")
    feedd("build", "--root", project.root)
    lines = [json.loads(line) for line in feedd("topics", "suggest", "--root", project.root, "--json").stdout.splitlines()]
    phrases = {line["language"]: [p["phrase"].lower() for p in line["phrases"]] for line in lines}
    assert set(phrases) == {"en", "fr"}
    assert "lake baikal" in phrases["en"][:3]
    assert any("retraites" in phrase for phrase in phrases["fr"][:3])
    # Phrases a rule already covers are not suggested ("drone" is a defense keyword).
    assert not any("drone" in phrase for phrases_ in phrases.values() for phrase in phrases_)
    text = feedd("topics", "suggest", "--root", project.root).stdout
    assert text.startswith("en (English), 3 documents:")


def test_check_explains_a_rejection_in_one_line(tmp_path):
    project = Project(tmp_path / "site", TOML)
    path = project.seed("bad.txt", b"\x00\x01\x02")
    result = feedd("check", "--root", project.root, path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "feedd: rejected: bad.txt: binary file (contains NUL bytes)"


def test_a_bad_config_is_one_line_naming_the_key(tmp_path):
    project = Project(tmp_path / "site", "[feeds]\nmax_items = -1\n")
    result = feedd("build", "--root", project.root, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "feedd: error: feedd.toml: feeds.max_items must be between 1 and 1000"


def test_check_says_which_fields_were_cut(tmp_path):
    project = Project(tmp_path / "site", TOML)
    path = project.seed("long.txt", "title: " + "Zelensky spoke " * 300 + "\n\nZelensky a parlé à Kiev.\n")
    report = json.loads(feedd("check", "--root", project.root, path).stdout)
    assert len(report["title"]) <= 120 and report["title"].endswith("…")
    assert len(report["shortened"]) == 1 and report["shortened"][0].startswith("title cut to")


def test_check_explains_an_occurrence_that_did_not_count(tmp_path):
    project = Project(tmp_path / "site", TOML + """
[topics.rail]
title = "Railways"
keywords = ["train"]
[topics.rail.ignore]
fr = ["en train de"]
""")
    path = project.seed("a.txt", " date 2026-03-08 Le gouvernement est en train de préparer une réforme des retraites.")
    report = json.loads(feedd("check", "--root", project.root, path).stdout)
    [rail] = [rule for rule in report["rules_not_applied"] if rule["rule"] == "[topics.rail]"]
    assert rail["hits"] == 0
    assert rail["not_counted"] == ["'en train de' does not count: ignored phrase 'en train de'"]


def test_an_ignore_list_must_be_a_table_of_languages(tmp_path):
    project = Project(tmp_path / "site", TOML + '\n[topics.rail]\nkeywords = ["train"]\nignore = ["en train de"]\n')
    result = feedd("build", "--root", project.root, check=False)
    assert result.returncode == 2 and "topics.rail.ignore must be a table" in result.stderr


def test_check_says_when_a_languages_own_letters_kept_a_word_apart(tmp_path):
    project = Project(tmp_path / "site", TOML + """
[topics.family]
title = "Family"
keywords = ["far", "mor"]
""")
    path = project.seed("sv.txt", "title: Jobb\nlang: sv\ndate: 2026-03-08\n\n"
                                  "Han får ett nytt jobb i Stockholm och flyttar dit i maj med sin familj.")
    report = json.loads(feedd("check", "--root", project.root, path).stdout)
    assert "family" not in [t["slug"] for t in report["topics"]]
    assert report["kept_apart"] == ["[topics.family]: 'får' is not 'far': Swedish (svenska) keeps å ä ö distinct"]


def test_check_says_which_forms_a_rules_forms_list_left_out(tmp_path):
    project = Project(tmp_path / "site", TOML + """
[topics.rail]
title = "Railways"
keywords = ["train"]
[topics.rail.forms]
train = ["trains"]
""")
    path = project.seed("en.txt", " date 2026-03-08 The team held a training camp in Spain and trained twice a day.")
    report = json.loads(feedd("check", "--root", project.root, path).stdout)
    assert "rail" not in [t["slug"] for t in report["topics"]]
    assert report["left_out"] == ["[topics.rail]: 'training' is not counted as 'train': not in the rule's forms",
                                  "[topics.rail]: 'trained' is not counted as 'train': not in the rule's forms"]
