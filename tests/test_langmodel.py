"""langdetect's model as arrays: the same n-grams as langdetect reads, the same profiles, repeatable answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

from feedd import langmodel

TEXTS = [
    "Le président ukrainien Zelensky a parlé dimanche à Kiev devant la presse internationale.",
    "President ZELENSKY spoke in KYIV on Sunday: https://example.org/x and mail@example.org.",
    "Президент України виступив у неділю в Києві перед міжнародною пресою.",
    "日本の首相は日曜日に東京で記者会見を行った。",
    "中国新能源汽车的销量继续增长，充电桩建设加快。",
    "Tiếng Việt có dấu: người Việt Nam ăn phở.",
    "مرحبا بكم في الأخبار. ABC news in Latin letters inside Arabic text.",
    "Jag tycker om att läsa böcker på kvällen när det är tyst i huset.",
]


@pytest.fixture(scope="module")
def factory():
    loaded = DetectorFactory()
    loaded.load_profile(PROFILES_DIRECTORY)
    return loaded


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return langmodel.model()


@pytest.mark.parametrize("text", TEXTS)
def test_the_ngrams_are_those_langdetect_reads(text, factory, model):
    detector = factory.create()
    detector.append(text)
    detector.cleaning_text()
    expected = detector._extract_ngrams()  # langdetect's own reading (the order does not matter to a sum)
    assert sorted(model.codes[model.ngrams(text)].tolist()) == sorted(langmodel.gram_code(g) for g in expected)
    assert len(expected) > 10


def test_the_matrix_holds_langdetects_profiles(factory, model):
    assert sorted(model.langs) == sorted(factory.langlist)
    assert model.logp.dtype == np.float16 and model.logp.shape == (len(model.codes), len(model.langs))
    assert len(model.codes) == len(factory.word_lang_prob_map)
    for gram in ("e", "th", "ent", "ды", "あ"):
        row = int(np.searchsorted(model.codes, langmodel.gram_code(gram)))
        assert model.codes[row] == langmodel.gram_code(gram)
        expected = factory.word_lang_prob_map[gram]
        for column, lang in enumerate(model.langs):
            p = expected[factory.langlist.index(lang)]
            assert model.logp[row, column] == pytest.approx(np.log(langmodel.ALPHA / langmodel.BASE_FREQ + p), rel=1e-3)


def test_answers_are_repeatable_and_shares_sum_to_one(model):
    rows = model.ngrams(TEXTS[0])
    columns = [model.column(code) for code in ("fr", "it", "es", "en")]
    first = model.probabilities(rows, columns)
    assert np.array_equal(first, model.probabilities(rows, columns))
    assert first.sum() == pytest.approx(1.0) and first.argmax() == 0


def test_the_model_is_cached_per_machine_and_rebuilt_when_unreadable(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    langmodel.model.cache_clear()
    try:
        built = langmodel.model()
        path = langmodel.cache_path()
        assert path.parent == tmp_path / "feedd" and path.is_file()
        langmodel.model.cache_clear()
        loaded = langmodel.model()
        assert loaded.langs == built.langs and np.array_equal(loaded.logp, built.logp)
        assert np.array_equal(loaded.norm, built.norm) and np.array_equal(loaded.upper, built.upper)
        path.write_bytes(b"not a numpy file")
        langmodel.model.cache_clear()
        again = langmodel.model()
        assert np.array_equal(again.logp, built.logp)
        with np.load(path) as data:  # written anew, whole
            assert data["logp"].shape == built.logp.shape
    finally:
        langmodel.model.cache_clear()


ALPHABET = "aAbBcCéÉçñßøÅ  ,.-'ЖжДдыЇїяあア漢字中國ạ̀ễ\u0301\u0300ءبت\n\t1"


@given(st.text(alphabet=ALPHABET, max_size=60))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_gives_the_ngrams_langdetect_reads(factory, model, text):
    detector = factory.create()
    detector.append(text)
    detector.cleaning_text()
    expected = sorted(langmodel.gram_code(g) for g in detector._extract_ngrams())
    assert sorted(model.codes[model.ngrams(text)].tolist()) == expected
