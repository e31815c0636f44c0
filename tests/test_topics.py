"""Topic rules on real-looking news text, in many languages and scripts.

The inflected forms come from the real lemmatiser (simplemma, in a child
process, cached for the session by conftest's ``inflection_cache``).
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedd import lemmas
from feedd.config import TopicRule, topic_slug
from feedd.model import Topic
from feedd.topics import Text, assign_topics, fold, fold_forms, folder_of, match_rules, rule_words

RULES = (
    TopicRule("ukraine", "Ukraine", ("Ukraine", "Україна", "Украина", "Kyiv", "أوكرانيا", "乌克兰")),
    TopicRule("defence", "Défense", ("drone", "Drohne", "dron", "طائرة مسيرة", "無人機")),
    TopicRule("ai", "AI", ("intelligence artificielle", "artificial intelligence", "人工智能")),
    TopicRule("rates", "Interest rates", ("Banco Central", "taxa de juros")),
    TopicRule("drought", "Drought", ("sequía", "Dürre", "ภัยแล้ง")),
    TopicRule("war", "War", ("war", "حرب")),
)


@pytest.fixture(scope="module")
def forms():
    """Keyword forms per language, as the pipeline gets them."""
    cache = {}

    def get(lang, rules=RULES):
        if (lang, rules) not in cache:
            cache[lang, rules] = fold_forms(lemmas.lookup(lang, rule_words(rules)), lang)
        return cache[lang, rules]

    return get


def topics_of(text, lang, forms, rules=RULES, title=""):
    return sorted(m.rule.slug for m in match_rules(title, text, lang, rules, forms(lang, rules)) if m.applies)


# -- inflected forms, in the document's language --------------------------------


@pytest.mark.parametrize("lang, text, topic", [
    ("en", "Two drones were shot down over the Black Sea overnight, the navy said.", "defence"),
    ("en", "Ukraine's air force said it intercepted most of the missiles.", "ukraine"),
    ("uk", "У Києві заявили, що Україні потрібні нові системи ППО до кінця року.", "ukraine"),
    ("uk", "Уряд України схвалив програму відновлення енергетики.", "ukraine"),
    ("ru", "Переговоры об Украине продолжатся на следующей неделе в Женеве.", "ukraine"),
    ("de", "Die Bundeswehr will bis 2027 mehrere tausend Drohnen beschaffen, teilte das Ministerium mit.",
     "defence"),
    ("pl", "Wojsko przechwyciło w nocy kilka dronów nad wschodnią granicą kraju.", "defence"),
    ("es", "Las sequías se repiten cada vez con más frecuencia en el sur de la península.", "drought"),
    ("ar", "أعلنت الحكومة أن الحرب كلفت الاقتصاد خسائر كبيرة خلال العام الماضي.", "war"),
    ("fr", "Les intelligences artificielles génératives inquiètent les éditeurs de presse.", "ai"),
])
def test_a_keyword_matches_its_inflected_forms(lang, text, topic, forms):
    assert topic in topics_of(text, lang, forms)


def test_inflections_come_from_the_lemmatiser_not_from_a_suffix_list(forms):
    uk = forms("uk")[fold("Україна", "uk")]
    assert {fold("Україні", "uk"), fold("України", "uk"), fold("Україною", "uk")} <= uk
    assert fold("drones") in forms("en")[fold("drone")]
    assert fold("الحرب") in forms("ar")[fold("حرب")]


def test_forms_belong_to_the_documents_language(forms):
    # "Drohnen" is German: an English document with the word is not matched through English forms.
    assert fold("drohnen") not in forms("en").get(fold("Drohne"), frozenset())
    assert "defence" in topics_of("Neue Drohnen für die Armee.", "de", forms)


def test_a_keyword_that_is_a_form_of_another_word_is_matched_as_written(forms):
    # German "war" is a form of "sein" (to be): "ist" must not count as "war".
    assert topics_of("Die Lage ist ernst, sagte der Minister am Montag.", "de", forms) == []
    assert topics_of("The war entered its fifth year.", "en", forms) == ["war"]
    assert topics_of("Two wars, one summit.", "en", forms) == ["war"]


def test_whole_words_only_in_every_language(forms):
    assert topics_of("Ukrainefest opens in Toronto with a record crowd.", "en", forms) == []
    assert topics_of("Dronero, a town in Piedmont, hosts the fair.", "it", forms) == []
    assert topics_of("Der Dürrenmatt-Abend ist ausverkauft.", "de", forms) == []  # a name, not Dürre


def test_case_accents_and_invisible_characters_do_not_matter(forms):
    assert topics_of("KYÏV: the mayor spoke.", "en", forms) == ["ukraine"]
    assert topics_of("Sequia historica en Andalucia.", "es", forms) == ["drought"]  # written without accents
    assert topics_of("Uk\u00adraine and dro\u200bnes", "en", forms) == ["defence", "ukraine"]


def test_a_document_in_an_undetermined_language_matches_keywords_as_written(forms):
    assert topics_of("drone", "und", forms) == ["defence"]
    assert topics_of("drones", "und", forms) == []


# -- phrases ---------------------------------------------------------------------


@pytest.mark.parametrize("lang, text, expected", [
    ("fr", "Le gouvernement présente un plan pour l'intelligence artificielle dans les écoles.", ["ai"]),
    ("fr", "L'intelligence, dit-on, n'est jamais artificielle.", []),  # not in sequence
    ("pt", "O Banco Central manteve a taxa de juros em 10,5% ao ano nesta quarta-feira.", ["rates"]),
    ("pt", "O banco abriu uma agência central no Porto.", []),
    ("en", "Regulators met to discuss Artificial   Intelligence in newsrooms.", ["ai"]),
    ("ar", "أسقطت الدفاعات الجوية طائرة مسيرة فوق المدينة فجر اليوم.", ["defence"]),
])
def test_a_phrase_matches_its_words_in_sequence(lang, text, expected, forms):
    assert topics_of(text, lang, forms) == expected


# -- languages written without spaces --------------------------------------------


@pytest.mark.parametrize("lang, text, expected", [
    ("zh-Hans", "国务院发布新一代人工智能发展规划，提出到二〇三〇年的目标。", ["ai"]),
    ("zh-Hans", "乌克兰总统泽连斯基周日表示，该国在反无人机方面拥有独特经验。", ["ukraine"]),
    ("zh-Hant", "國防部表示，昨晚共有十二架無人機飛越海峽中線。", ["defence"]),
    ("ja", "政府は無人機の規制を強化する方針を固めた。", ["defence"]),
    ("th", "กรมอุตุนิยมวิทยาเตือนภัยแล้งรุนแรงในภาคอีสาน", ["drought"]),
    ("zh-Hans", "人工与智能是两个词。", []),
])
def test_unspaced_scripts_match_keywords_as_substrings(lang, text, expected, forms):
    assert topics_of(text, lang, forms) == expected


# -- per-language lists, exclusions, minimum hits ---------------------------------


def test_by_language_keywords_apply_only_to_that_language(forms):
    rule = TopicRule("ukraine", "Ukraine", ("Kyiv",), by_language=(("fr", ("ukrainien",)),))
    text = "Le ministre ukrainien des Affaires étrangères est attendu à Paris mardi."
    assert topics_of(text, "fr", forms, rules=(rule,)) == ["ukraine"]
    assert topics_of("Ukrainien is not an English word.", "en", forms, rules=(rule,)) == []
    # "fr" serves regional variants too.
    assert topics_of(text, "fr-CA", forms, rules=(rule,)) == ["ukraine"]


def test_exclude_keeps_a_noisy_topic_out(forms):
    rule = TopicRule("defence", "Défense", ("drone",), exclude=("wedding", "Hochzeit"))
    assert topics_of("Police used a drone to find the missing hikers.", "en", forms, rules=(rule,)) == ["defence"]
    text = "A drone filmed the royal wedding from above."
    assert topics_of(text, "en", forms, rules=(rule,)) == []
    match = match_rules("", text, "en", (rule,), forms("en", (rule,)))[0]
    assert [hit.keyword for hit in match.excluded_by] == ["wedding"] and not match.applies
    # Excluding words are inflected as well.
    assert topics_of("Eine Drohne filmte zwei Hochzeiten.", "de", forms,
                     rules=(TopicRule("d", "D", ("Drohne",), exclude=("Hochzeit",)),)) == []


def test_min_hits_counts_places_in_the_text_not_keywords(forms):
    rule = TopicRule("ukraine", "Ukraine", ("Ukraine", "Kyiv"), min_hits=2)
    assert topics_of("Ukraine won the match.", "en", forms, rules=(rule,)) == []
    assert topics_of("Ukraine won; Kyiv celebrated.", "en", forms, rules=(rule,)) == ["ukraine"]
    # Two keywords on the same word ("drone", "drones") are one hit.
    twice = TopicRule("defence", "D", ("drone", "drones"), min_hits=2)
    assert topics_of("A drones fair.", "en", forms, rules=(twice,)) == []


def test_the_title_counts_once_when_it_is_the_first_sentence(forms):
    rule = TopicRule("ukraine", "Ukraine", ("Ukraine",), min_hits=2)
    text = "Ukraine signs a deal. Nothing else."
    assert topics_of(text, "en", forms, rules=(rule,), title="Ukraine signs a deal.") == []
    assert topics_of(text, "en", forms, rules=(rule,), title="Kyiv: Ukraine deal") == ["ukraine"]


def test_matches_explain_themselves(forms):
    [match] = match_rules("", "Україні потрібні дрони. Україна чекає.", "uk", RULES[:1], forms("uk"))
    [hit] = match.hits
    assert hit.keyword == "Україна" and hit.count == 2
    assert set(hit.examples) == {"Україні", "Україна"}


# -- the three sources -------------------------------------------------------------


def test_three_sources_are_merged_and_sorted(forms):
    tagging = assign_topics("Kyiv", "body", ["Défense", "Local News"], "world", RULES, "en", forms("en"))
    assert tagging.topics == (
        Topic("defense", "Défense"),
        Topic("local-news", "Local News"),
        Topic("ukraine", "Ukraine"),
        Topic("world", "world"),
    )
    assert tagging.sources == {"defense": "tags", "local-news": "tags", "world": "folder", "ukraine": "rule"}


def test_configured_title_wins_for_a_tag_with_the_same_slug():
    assert assign_topics("", "", ["defence"], None, RULES).topics == (Topic("defence", "Défense"),)


@pytest.mark.parametrize("name, slug", [
    ("Défense", "defense"), ("Local News", "local-news"), ("Україна", "ukraina"), ("  A/B  ", "a-b"), ("???", ""),
])
def test_topic_slugs_are_ascii(name, slug):
    assert topic_slug(name) == slug


def test_folder_is_the_first_folder_only():
    assert folder_of("ukraine/2026/a.txt") == "ukraine"
    assert folder_of("a.txt") is None


def test_text_folds_case_accents_and_zero_width_characters():
    assert Text("ÉTÉ\u200b Ukraine’s").folded == ["ete", "ukraine", "s"]


def test_related_spellings():
    assert lemmas.related("drones", "drone") and lemmas.related("الحرب", "حرب")
    assert not lemmas.related("ist", "sein") and not lemmas.related("went", "go")
    assert lemmas.related("Züge", "Zug")  # a stem vowel with a mark is still the stem


def test_an_unusable_cache_costs_one_lookup_not_one_per_change(tmp_path, caplog):
    """A daemon whose cache folder cannot be created (a read-only home) looks a word up once."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cache = blocker / "inflections.sqlite3"
    with caplog.at_level("WARNING", logger="feedd.lemmas"):
        first = lemmas.lookup_many({"en": ["tractor"]}, cache)
        second = lemmas.lookup_many({"en": ["tractor"]}, cache)
    assert first == second and "tractors" in first["en"]["tractor"]
    assert sum("unusable" in record.getMessage() for record in caplog.records) == 1


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
                .filter(lambda w: " " not in w), max_size=80),
       st.sampled_from(["und", "fr", "de", "sv", "tr", "cs", "ru"]))
@settings(max_examples=300, deadline=None)
def test_folding_a_text_at_once_folds_each_word_as_alone(words, lang):
    """A whole text is folded as an array of code points, a word as text: the same answer."""
    from feedd.topics import fold_words

    assert fold_words(words, lang) == [fold(word, lang) for word in words]


@pytest.mark.parametrize("lang", ["und", "fr", "de", "sv", "tr", "cs", "ru", "uk", "es"])
def test_a_long_text_folds_as_its_words_do(lang):
    """Past a few hundred characters a text is folded as an array: letters a language keeps,
    marks it drops, dotted and dotless i, ligatures, all as for each word alone."""
    from feedd.topics import _LONG, _fold

    words = "Får Ägg ÖL über Wählen İstanbul Iğdır Élysée być Йод ёж ї Peña ﬁn Zürich".split() * 20
    assert len(" ".join(words)) > _LONG
    assert _fold(" ".join(words), lang) == " ".join(fold(word, lang) for word in words)


RAIL = (TopicRule("rail", "Railways", ("train", "Zug", "tren"),
                  ignore=(("de", ("Zug um Zug",)), ("es", ("a todo tren",)),
                          ("fr", ("en train de", "train de vie")))),)


@pytest.mark.parametrize("lang, text, expected", [
    ("fr", "Le gouvernement est en train de négocier avec les syndicats.", []),
    ("fr", "Le ministre a réduit le train de vie de l'État.", []),
    ("fr", "Le train de nuit entre Paris et Berlin reprend en décembre.", ["rail"]),
    ("fr", "Le gouvernement est en train de commander un nouveau train.", ["rail"]),  # no veto: one hit left
    ("de", "Die Reform wird Zug um Zug umgesetzt.", []),
    ("de", "Der Zug nach Berlin fiel aus.", ["rail"]),
    ("de", "Die Züge nach Berlin fielen aus.", ["rail"]),  # inflected keywords still count
    ("es", "El tren de la tarde llegó tarde.", ["rail"]),  # the French list is French only
    ("es", "El proyecto avanza a todo tren.", []),
])
def test_ignored_phrases_do_not_count_in_their_language(lang, text, expected, forms):
    assert topics_of(text, lang, forms, RAIL) == expected


def test_an_ignored_phrase_says_what_it_held(forms):
    [match] = match_rules("", "Le pays est en train de changer. En train de nuit, tout va mieux.", "fr", RAIL,
                          forms("fr", RAIL))
    assert not match.applies  # "En train de nuit" is the idiom's words too: both occurrences are held
    assert [hit.keyword for hit in match.ignored] == ["en train de"]
    assert match.count == 0


@pytest.mark.parametrize("lang, keyword, text, matched", [
    ("sv", "far", "Han får ett nytt jobb i Stockholm.", False),  # å is a letter of its own
    ("sv", "far", "Hans far flyttade till Göteborg.", True),
    ("es", "pena", "La peña del Real Madrid celebró el título.", False),  # ñ too
    ("es", "presidente", "El PRESIDENTE habló en el Congreso.", True),
    ("fr", "Élysée", "Le palais de l'Elysee a publié un communiqué.", True),  # French marks are optional
    ("cs", "byt", "Chce být prezidentem republiky.", False),  # every Czech mark matters
    ("tr", "sınır", "SINIR kapısı yeniden açıldı.", True),  # I is ı in Turkish
    ("tr", "sinir", "SINIR kapısı yeniden açıldı.", False),
    ("de", "Wahl", "Wählen Sie eine Farbe.", False),  # German keeps ä ö ü: "wählen" is not "Wahlen"
    ("de", "Élysée", "Ein Sprecher des Elysee sagte am Montag.", True),  # other marks are optional
])
def test_folding_keeps_the_letters_a_language_keeps(lang, keyword, text, matched, forms):
    rules = (TopicRule("t", "T", (keyword,)),)
    assert topics_of(text, lang, forms, rules) == (["t"] if matched else [])


def test_folding_per_language():
    assert fold("Får", "sv") == "får" and fold("Får") == "far"
    assert fold("Україні", "uk") == "україні" and fold("мой", "ru") != fold("мои", "ru")
    assert fold("İSTANBUL", "tr") == "istanbul" and fold("IŞIK", "tr") == "ışık"
    assert fold("Být", "cs") == "být" and fold("Élysée", "fr") == "elysee"
    assert fold("Wählen", "de") == "wählen" != fold("Wahlen", "de") and fold("Élysée", "de") == "elysee"


def test_a_rule_can_say_which_forms_a_keyword_has(forms):
    """English nouns whose verb shares the lemma: "match" would find "matching", "train" "training"."""
    loose = (TopicRule("football", "Football", ("match", "train")),)
    exact = (TopicRule("football", "Football", ("match", "train"),
                       forms=(("match", ("matches",)), ("train", ("trains",)))),)
    text = "Matching donations and staff training were announced by the bank."
    assert topics_of(text, "en", forms, loose) == ["football"]  # what the lemmatiser alone gives
    assert topics_of(text, "en", forms, exact) == []
    assert topics_of("Two matches were postponed.", "en", forms, exact) == ["football"]
    assert topics_of("The match was postponed.", "en", forms, exact) == ["football"]  # the keyword itself


def test_a_keyword_keeps_its_own_inflections_when_its_lemma_is_another_word(forms):
    """simplemma reads German "verborgen" as a form of "verbergen" (no shared stem by feedd's measure):
    the words whose lemma is "verborgen" itself are still its forms."""
    hidden = (TopicRule("hidden", "Hidden", ("verborgen",)),)
    assert topics_of("Die verborgenen Kosten der Energiewende wurden bekannt.", "de", forms, hidden) == ["hidden"]
    assert fold("verborgenen", "de") in forms("de", hidden)[fold("verborgen", "de")]


def test_forms_by_analogy_with_the_words_ending_alike():
    """Pure: a change of ending made by enough similar words is taken; one made by a single word is
    only a candidate (the lemmatiser may still confirm it)."""
    paradigms = {"žena": {"žena", "ženy", "žen", "ženě"}, "cena": {"cena", "ceny", "cen", "ceně"},
                 "hodina": {"hodina", "hodiny", "hodin", "hodině"}, "bedna": {"bedna", "bednou"}}
    made = lemmas.by_analogy("vakcína", paradigms)
    assert made["vakcín"] and made["vakcíny"] and made["vakcíně"]  # three of four similar words say so
    assert made["vakcínou"] is False  # one says so: a candidate, not taken on its own
    assert lemmas.by_analogy("vakcína", {"žena": {"žena", "ženy"}}) == {"vakcíny": False}


@pytest.mark.parametrize("lang, keyword, found, not_found", [
    ("cs", "vakcína", {"vakcín"}, set()),  # the dictionary lacks the genitive plural
    ("it", "esondazione", {"esondazioni"}, set()),  # the dictionary lacks the word's plural
    ("cs", "astronaut", {"astronauti"}, set()),  # the lemmatiser's own rules read it so
    ("es", "vacuna", {"vacunas"}, set()),  # the dictionary reads the plural as the verb "vacunar"
    ("sv", "järnväg", {"järnvägarna"}, set()),  # ... and this one as "järnvägare", a railwayman
    ("es", "soldado", {"soldados"}, {"soldada"}),  # "soldada" (welded) is a word of its own
    ("uk", "гол", {"голом"}, {"голові"}),  # a guess for a short keyword does not outweigh "in the head"
])
def test_forms_the_dictionary_lacks_or_reads_as_another_word(lang, keyword, found, not_found):
    forms = set(lemmas.lookup(lang, [keyword])[keyword])
    assert found <= forms and not (not_found & forms)


def test_rules_compiled_once_a_process_but_not_without_their_inflections(tmp_path, monkeypatch, caplog):
    """Workers and the daemon tag with rules compiled once (feedd.reconcile.matcher); rules whose
    inflections could not be had (a child killed for memory) match as written that time only."""
    from dataclasses import replace

    from feedd.config import Config
    from feedd.reconcile import matcher

    config = Config(tmp_path, topics=(TopicRule("farming", "Farming", ("tractor",)),))

    def killed(wanted, cache=None):
        raise MemoryError("the lemmatiser's child was killed")

    monkeypatch.setattr(lemmas, "lookup_many", killed)
    with caplog.at_level("WARNING", logger="feedd.reconcile"):
        assert matcher(config, "en").forms == {}
    assert "keywords match as written" in caplog.text
    monkeypatch.undo()
    compiled = matcher(config, "en")
    assert "tractors" in compiled.forms["tractor"] and matcher(config, "en") is compiled
    assert matcher(replace(config, topics=(TopicRule("farming", "Farming", ("tractor",)),)), "en") is compiled
    assert matcher(replace(config, topics=(TopicRule("farming", "Farming", ("plough",)),)), "en") is not compiled
