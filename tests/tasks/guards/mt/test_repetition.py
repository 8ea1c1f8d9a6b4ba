from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.repetition import RepetitionDetector, char_loops, longest_run, near_repeats
from tasks.guards.mt.settings import RepetitionSettings
from tasks.guards.text import tokens


def _scores(src, mt):
    batch = TranslationBatch.build(src, mt, ["de"] * len(src), ["en"] * len(src))
    return RepetitionDetector(RepetitionSettings()).score(batch)


def test_token_loop_is_caught():
    result = _scores(["Die Schleimhaut füllt die Nasenhöhle aus."], ["The mucous " + "mucous " * 20])
    assert result.scores[0] == 1.0
    assert "mucous" in result.details[0]


def test_oscillating_phrase_is_caught():
    mt = "Hotel in Val di Fassa, Val di Fassa, Val di Fassa, Val di Fassa, Val di Fassa."
    assert _scores(["Hotel im Fassatal."], [mt]).scores[0] == 1.0
    assert longest_run(tokens(mt), 4) == (5, "val di fassa")


def test_character_loop_inside_a_token_is_caught():
    assert char_loops("German/English/WhiteWhiteWhiteWhite", 3) == {"white"}
    assert _scores(["Deutsch/Englisch/werweisswas"], ["German/English/WhiteWhiteWhiteWhite"]).scores[0] == 1.0


def test_near_repeat_is_caught():
    count, unit = near_repeats(tokens("Accommodation is provided with bed linen or bed linen."), 5)
    assert count == 1 and unit == "bed linen"


def test_fluent_translation_passes():
    result = _scores(
        ["Die Zimmer waren sauber und das Frühstück war gut."], ["The rooms were clean and the breakfast was good."]
    )
    assert result.scores[0] == 0.0


def test_repetition_present_in_the_source_is_not_blamed():
    assert _scores(["Das ist sehr, sehr gut."], ["That is very, very good."]).scores[0] == 0.0


def test_cjk_reduplication_is_not_a_loop_but_a_long_run_is():
    assert _scores(["Everyone is welcome."], ["人人都欢迎。"]).scores[0] == 0.0
    assert _scores(["This is good."], ["这是好的的的的的的的的"]).scores[0] == 1.0
