import re
from pathlib import Path

import pytest

from feedd.config import DEFAULT_TOML, ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "feedd.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_no_file_means_defaults(tmp_path):
    config = load_config(tmp_path)
    assert config.site.base_url == "http://127.0.0.1:8080/"
    assert config.feeds.max_items == 50
    assert config.seeds_dir == tmp_path.resolve() / "seeds"
    assert config.index_path == tmp_path.resolve() / ".feedd" / "index.sqlite3"


def test_the_commented_default_file_loads(tmp_path):
    config = load_config(write(tmp_path, DEFAULT_TOML.format(title="My site")))
    assert config.site.title == "My site"
    assert [rule.slug for rule in config.topics] == ["example"]


def test_paths_are_relative_to_the_root(tmp_path):
    config = load_config(write(tmp_path, '[paths]\nseeds = "in"\nfeeds = "/srv/out"\nstate = "var"\n'))
    assert config.seeds_dir == tmp_path.resolve() / "in"
    assert config.feeds_dir == Path("/srv/out")
    assert config.index_path == tmp_path.resolve() / "var" / "index.sqlite3"


def test_topics_get_ascii_slugs_and_default_titles(tmp_path):
    config = load_config(write(tmp_path, '[topics."Défense"]\nkeywords = ["drone"]\n'))
    assert [(r.slug, r.title, r.keywords) for r in config.topics] == [("defense", "Défense", ("drone",))]


def test_topic_rules_take_language_lists_exclusions_and_min_hits(tmp_path):
    config = load_config(write(tmp_path, """
[topics.ukraine]
keywords = ["Ukraine"]
exclude = ["Ukrainefest"]
min_hits = 2
[topics.ukraine.by_language]
fr = ["ukrainien", "ukrainienne"]
uk = ["Україна"]
"""))
    [rule] = config.topics
    assert rule.exclude == ("Ukrainefest",) and rule.min_hits == 2
    assert rule.keywords_for("fr") == ("Ukraine", "ukrainien", "ukrainienne")
    assert rule.keywords_for("uk") == ("Ukraine", "Україна")
    assert rule.keywords_for("en") == ("Ukraine",)


@pytest.mark.parametrize("text, key", [
    ("[topics.x]\nmin_hits = 0\n", "topics.x.min_hits"),
    ("[topics.x]\nexclude = ['']\n", "topics.x.exclude"),
    ("[topics.x]\nby_language = ['fr']\n", "topics.x.by_language"),
    ("[topics.x.by_language]\nfrench = ['x']\n", "topics.x.by_language.french"),
    ("[topics.x.by_language]\nfr = 'x'\n", "topics.x.by_language.fr"),
    ("[site]\ntittle = 'x'\n", "site.tittle"),
    ("[feeds]\nmax_items = 'many'\n", "feeds.max_items"),
    ("[feeds]\nmax_items = 0\n", "feeds.max_items"),
    ("[feeds]\nfull_content = 1\n", "feeds.full_content"),
    ("[server]\nport = 70000\n", "server.port"),
    ("[site]\nbase_url = 'example.org'\n", "site.base_url"),
    ("[site]\nbase_url = 'http://example.org/news'\n", "site.base_url"),
    ("[site]\ntimezone = 'Mars/Olympus'\n", "site.timezone"),
    ("[site]\ntag_authority = 'example.org'\n", "site.tag_authority"),
    ("[topics.x]\nkeywords = 'drone'\n", "topics.x.keywords"),
    ("[topics.x]\nkeyword = ['drone']\n", "topics.x.keyword"),
    ("[topics.x]\nkeywords = ['']\n", "topics.x.keywords"),
    ("[sites]\ntitle = 'x'\n", "[sites]"),
    ("[site\n", "invalid TOML"),
])
def test_invalid_config_is_a_clear_error_naming_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert key in str(caught.value)
    assert "\n" not in str(caught.value)


# -- every default written once: the feedd init template and the README agree with the dataclasses --

def _sections():
    import dataclasses

    from feedd.config import _SECTIONS

    for name, cls in _SECTIONS.items():
        yield name, {f.name: f.default for f in dataclasses.fields(cls)}


def test_the_init_template_states_every_default_as_it_is():
    import tomllib

    written = tomllib.loads(DEFAULT_TOML.format(title="feedd"))
    for section, defaults in _sections():
        assert section in written, f"feedd init leaves out [{section}]"
        for key, default in defaults.items():
            assert key in written[section], f"feedd init leaves out {section}.{key}"
            value = written[section][key]
            value = tuple(value) if isinstance(value, list) else value
            assert value == (str(default) if isinstance(default, Path) else default), f"{section}.{key}"


def test_the_readme_table_names_every_key_with_its_default():
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `\[(\w+)\]` \| (.*) \|$", readme, re.MULTILINE))
    for section, defaults in _sections():
        assert section in rows, f"README's configuration table has no [{section}] row"
        stated = dict(re.findall(r"`(\w+)` \(([^)]*)\)", rows[section]))
        for key, default in defaults.items():
            assert f"`{key}`" in rows[section], f"README's table leaves out {section}.{key}"
            if key in stated:
                assert _same(_readme_value(stated[key]), default), f"README states another default for {section}.{key}"


def _readme_value(text: str):
    """``(`true`)``, ``(10 000 000)``, ``(0.7)``, ``(`[]`: any)``, ``(`http://…/`, where…)`` → a value."""
    if text.startswith("`"):
        text = text[1:text.index("`", 1)]
    else:
        text = re.split(r"[;:,]", text)[0].replace(" ", "")
    return {"true": True, "false": False, "[]": (), '""': ""}.get(text, text)


def _same(stated, default) -> bool:
    if isinstance(default, (bool, tuple)):
        return stated == default
    if isinstance(default, (int, float)):
        return float(stated) == float(default)
    return stated == str(default)
