import math

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.language import LanguageDetector, accepted_labels
from tasks.guards.mt.settings import LanguageSettings


def _scores(mt, tgt):
    batch = TranslationBatch.build(["x"] * len(mt), mt, ["de"] * len(mt), tgt)
    return LanguageDetector(LanguageSettings()).score(batch)


def test_wrong_language_is_caught():
    result = _scores(["Das Hotel liegt im Herzen der Stadt und das Personal war sehr freundlich."], ["en"])
    assert result.scores[0] > 0.9
    assert "'de'" in result.details[0]


def test_right_language_passes():
    result = _scores(
        [
            "The hotel is in the heart of the city and the staff were very friendly.",
            "ホテルは街の中心にあり、スタッフはとても親切でした。",
        ],
        ["en", "ja"],
    )
    assert result.scores.tolist() == [0.0, 0.0]


def test_short_outputs_are_damped():
    # one short German word for an English target: too short to be sure
    assert _scores(["Danke"], ["en"]).scores[0] < 0.5


def test_unknown_target_or_no_letters_is_not_scored():
    result = _scores(["Hello there my friend", "12 345"], ["xx", "en"])
    assert all(math.isnan(v) for v in result.scores)


def test_sibling_labels_count_for_the_target():
    assert "nb" in accepted_labels("no")
    assert accepted_labels("fr") == {"fr"}


# One sentence in each language whose ISO 639-2/3 or deprecated code used to pass through unmapped
# (and so was never checked): "The hotel is in the city centre and the staff were very friendly."
IN_THEIR_LANGUAGE = {
    "fas": "هتل در مرکز شهر قرار دارد و کارکنان بسیار مهربان بودند.",
    "cat": "L'hotel és al centre de la ciutat i el personal va ser molt amable.",
    "slk": "Hotel sa nachádza v centre mesta a personál bol veľmi priateľský.",
    "hrv": "Hotel se nalazi u središtu grada, a osoblje je bilo vrlo ljubazno.",
    "est": "Hotell asub kesklinnas ja personal oli väga sõbralik ja abivalmis.",
    "lit": "Viešbutis yra miesto centre, o darbuotojai buvo labai draugiški.",
    "msa": "Hotel ini terletak di tengah bandar dan kakitangannya sangat mesra.",
    "ben": "হোটেলটি শহরের কেন্দ্রে অবস্থিত এবং কর্মীরা খুব বন্ধুত্বপূর্ণ ছিলেন।",
    "iw": "המלון נמצא במרכז העיר והצוות היה מאוד ידידותי ועוזר.",
    "in": "Hotel ini terletak di pusat kota dan stafnya sangat ramah.",
    "nob": "Hotellet ligger i sentrum av byen, og personalet var veldig vennlige.",
}
ENGLISH = "The hotel is in the city centre and the staff were very friendly."


def test_codes_langcodes_standardises_are_checked():
    codes = list(IN_THEIR_LANGUAGE)
    right = _scores(list(IN_THEIR_LANGUAGE.values()), codes)
    wrong = _scores([ENGLISH] * len(codes), codes)
    for code, ok, bad, why in zip(codes, right.scores, wrong.scores, wrong.details):
        assert not math.isnan(ok) and ok < 0.5, code  # scored, and its own language passes
        assert bad > 0.9 and "'en'" in why, code  # an English "translation" into it is caught
    assert not any(right.notes) and not any(wrong.notes)


def test_a_language_the_identifier_does_not_know_is_said_in_the_notes():
    result = _scores(["Aloha, ua hele mai ka poʻe i ka hale.", "Hello there my friend", "12 345"], ["haw", "", "xq"])
    assert all(math.isnan(v) for v in result.scores)
    assert "does not know 'haw'" in result.notes[0] and "names no target language" in result.notes[1]
    assert result.notes[2] == ""  # nothing to identify: no letters
