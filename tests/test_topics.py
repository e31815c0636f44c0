import pytest

from feedd.config import TopicRule, topic_slug
from feedd.model import Topic
from feedd.topics import assign_topics, folder_of, match_text, matching_rules

RULES = (
    TopicRule("ukraine", "Ukraine", ("Ukraine", "ukrainien", "Kyiv")),
    TopicRule("ai", "AI", ("intelligence artificielle", "Banco Central")),
    TopicRule("energy", "Energy", ("新能源汽车",)),
    TopicRule("defense", "Défense", ("drone",)),
)


@pytest.mark.parametrize("text, expected", [
    ("Le président UKRAINIEN a parlé.", ["ukraine"]),
    ("Le president ukrainien a parle.", ["ukraine"]),
    ("Kyïv", ["ukraine"]),  # accents do not matter
    ("Kyiv.", ["ukraine"]),
    ("Ukraine's army", ["ukraine"]),
    ("Ukrainefest is a festival", []),  # whole words only
    ("L'intelligence   artificielle progresse", ["ai"]),
    ("intelligence et artificielle", []),
    ("北京市公布了新能源汽车计划", ["energy"]),
    ("A drone flew over.", ["defense"]),
    ("drones", []),  # inflected forms are issue #5's lemmatiser, not this rule
])
def test_rules_match_whole_words_case_and_accent_insensitively(text, expected):
    assert [rule.slug for rule in matching_rules("", text, RULES)] == expected


def test_rules_match_in_the_title_too():
    assert [r.slug for r in matching_rules("Kyiv today", "Nothing here.", RULES)] == ["ukraine"]


def test_three_sources_are_merged_and_sorted():
    topics = assign_topics("Kyiv", "body", ["Défense", "Local News"], "world", RULES)
    assert topics == (
        Topic("defense", "Défense"),
        Topic("local-news", "Local News"),
        Topic("ukraine", "Ukraine"),
        Topic("world", "world"),
    )


def test_configured_title_wins_for_a_tag_with_the_same_slug():
    assert assign_topics("", "", ["defense"], None, RULES) == (Topic("defense", "Défense"),)


@pytest.mark.parametrize("name, slug", [
    ("Défense", "defense"), ("Local News", "local-news"), ("Україна", "ukraina"), ("  A/B  ", "a-b"), ("???", ""),
])
def test_topic_slugs_are_ascii(name, slug):
    assert topic_slug(name) == slug


def test_folder_is_the_first_folder_only():
    assert folder_of("ukraine/2026/a.txt") == "ukraine"
    assert folder_of("a.txt") is None


def test_match_text_folds_case_accents_and_zero_width_characters():
    assert match_text("ÉTÉ\u200b Ukraine’s") == " ete ukraine s "
