import math

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.length import LengthRatioDetector, length_ratio, ratio_score, weighted_length
from tasks.guards.mt.settings import LengthSettings

EN = "The staff were very friendly and helpful, and the room was clean and comfortable."


def _scores(src, mt, src_lang="en", tgt_lang="ja"):
    batch = TranslationBatch.build(src, mt, [src_lang] * len(src), [tgt_lang] * len(src))
    return LengthRatioDetector(LengthSettings()).score(batch).scores


def test_cjk_translations_are_not_too_short():
    # raw character ratios are ~0.3-0.5 here; script weights make them comparable
    ja = "スタッフはとても親切で、部屋は清潔で快適でした。"
    zh = "工作人员非常友好和乐于助人，房间干净舒适。"
    ko = "직원들은 매우 친절하고 도움이 되었으며 방은 깨끗하고 편안했습니다."
    th = "พนักงานเป็นมิตรและช่วยเหลือดีมาก ห้องพักสะอาดและสะดวกสบาย"
    assert len(zh) / len(EN) < 0.3
    assert _scores([EN] * 4, [ja, zh, ko, th]).tolist() == [0.0] * 4


def test_cjk_to_english_is_not_too_long():
    assert _scores(["工作人员非常友好和乐于助人，房间干净舒适。"], [EN], "zh", "en")[0] == 0.0


def test_truncated_and_runaway_translations_are_caught():
    long_src = EN * 3
    assert _scores([long_src], ["The staff."], "en", "de")[0] > 0.5
    assert _scores(["Der Raum."], ["The room " + "and the room " * 30], "de", "en")[0] == 1.0


def test_empty_source_is_not_scored_and_empty_translation_is_too_short():
    scores = _scores(["", EN], ["", ""], "en", "de")
    assert math.isnan(scores[0]) and scores[1] > 0.5


def test_weighted_length_and_ratio_score():
    weights = LengthSettings().script_weights
    assert weighted_length("ab 12!", weights) == 4
    assert weighted_length("東京", weights) == 2 * weights["han"]
    assert ratio_score(1.0, 0.5, 2.0) == 0.0
    assert ratio_score(0.25, 0.5, 2.0) == 1.0
    assert 0 < ratio_score(3.0, 0.5, 2.0) < 1
    assert length_ratio("", "", LengthSettings()) == 1.0
