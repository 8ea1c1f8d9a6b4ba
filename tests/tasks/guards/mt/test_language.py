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
