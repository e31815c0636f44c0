import pytest

from feedd.config import LanguageConfig
from feedd.language import detect_language, language_sample

DEFAULT = LanguageConfig()

TEXTS = {
    "fr": "Le président ukrainien a affirmé dimanche que son pays disposait d'une expérience unique dans la lutte contre les drones.",
    "en": "Ukraine and the Netherlands will produce interceptor drones together, officials in Kyiv said on Tuesday.",
    "de": "Nach dem trockensten Winter seit Beginn der Aufzeichnungen warnen Landwirte in Brandenburg vor einer neuen Dürre.",
    "es": "El gobierno andaluz aprobó este jueves un plan de emergencia para garantizar el abastecimiento de agua en Málaga.",
    "uk": "Українські енергетики завершили відновлення двох підстанцій у Харківській області після нічної атаки.",
    "ru": "Российские власти объявили о новых мерах поддержки малого бизнеса в регионах страны в этом году.",
    "ar": "أعلنت الحكومة اليوم عن خطة جديدة لدعم الزراعة في المناطق الريفية وتحسين إمدادات المياه للمزارعين.",
    "zh-Hans": "北京市政府周五公布了新的新能源汽车充电设施建设计划，到二零二七年底将在全市新增五万个公共充电桩。",
    "zh-Hant": "臺北市政府週五公佈了新的電動車充電設施建設計畫，預計在全市新增五萬個公共充電樁，並優先覆蓋老舊社區。",
    "ja": "東京都は金曜日、新しい電気自動車の充電設備の整備計画を発表しました。",
    "ko": "서울시는 금요일 새로운 전기차 충전 시설 확충 계획을 발표했습니다.",
    "el": "Η κυβέρνηση ανακοίνωσε σήμερα νέα μέτρα για τη στήριξη των αγροτών της χώρας.",
    "he": "הממשלה הודיעה היום על תוכנית חדשה לתמיכה בחקלאים באזורי הפריפריה.",
}


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_detects_news_text_in_many_languages(code):
    assert detect_language(TEXTS[code], DEFAULT) == code


@pytest.mark.parametrize("text", ["", "   ", "OK", "Hello!", "12345 67890 2026-03-08", "https://example.org/some/long/path/here"])
def test_too_little_text_is_undetermined(text):
    assert detect_language(text, DEFAULT) == "und"


def test_results_are_deterministic():
    text = "Ceci est un texte court mais ambigu, ou pas."
    assert len({detect_language(text, DEFAULT) for _ in range(20)}) == 1


def test_low_confidence_is_undetermined():
    text = "Ahora respondo a la demanda ocasional."
    assert detect_language(text, DEFAULT) == "es"
    assert detect_language(text, LanguageConfig(threshold=0.99)) == "und"
    assert detect_language("Pizza Margherita, Tapas, Sushi, Bratwurst", DEFAULT) == "und"


@pytest.mark.parametrize("text, code", [
    # Each of these, langdetect alone gets wrong (in brackets).
    ("Он ждет на севере района, около ворот.", "ru"),  # (bg)
    ("Denna verksamhetsform har stora friheter.", "sv"),  # (no)
    ("Як і кожна людина, яка мала нещастя бути «советским человеком».", "uk"),  # (ru)
    ("Biografie Cornelis van den Burg werd omstreeks 1752 geboren.", "nl"),  # (af)
    ("Надо готовиться?", "und"),  # under 20 characters, nothing proves it
    ("Вы готовы?", "ru"),  # under 20, but only Russian writes "ы"
    ("Ви готові?", "uk"),  # under 20, but only Ukrainian writes "і"
    ("東京都知事選挙", "und"),  # Han only and short: could be Japanese
    ("今度の７月７日土曜日", "ja"),  # one kana among Han: Chinese never writes kana
    ("Fairy Tail (フェアリーテイ", "und"),  # a Japanese title in Latin text decides nothing
    ("Naast correspondent was Jacob Kronika ook schrijver. Nadat Ogün Altıparmak zijn actieve loopbaan "
     "beëindigde, hield hij zich onder andere bezig met de politiek van Turkije. Na de dood van Balon keerde "
     "ze terug naar de eilanden om de troon op te eisen.", "nl"),  # one Turkish "ı" in a name rules nothing out
])
def test_close_languages_and_short_texts(text, code):
    assert detect_language(text, DEFAULT) == code


def test_candidates_restrict_the_answer():
    fr_en = LanguageConfig(candidates=("fr", "en"))
    assert detect_language(TEXTS["fr"], fr_en) == "fr"
    assert detect_language(TEXTS["de"], fr_en) in ("und", "en", "fr")
    assert detect_language(TEXTS["ja"], LanguageConfig(candidates=("fr",))) != "ja"


def test_sample_drops_urls_numbers_and_markup():
    sample = language_sample("Voir https://example.org/x?y=1 <b>ici</b> 2026 &amp; là")
    assert sample == "Voir ici là"
