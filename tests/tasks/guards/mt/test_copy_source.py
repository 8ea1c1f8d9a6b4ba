import math

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.copy_source import CopySourceDetector, trigram_jaccard
from tasks.guards.mt.settings import CopySettings


def _scores(src, mt, src_lang="de", tgt_lang="en"):
    batch = TranslationBatch.build(src, mt, [src_lang] * len(src), [tgt_lang] * len(src))
    return CopySourceDetector(CopySettings()).score(batch).scores


def test_copy_of_source_is_caught():
    src = "Mal uni, mal mit Metall, mal mit Glas oder wieder in uni."
    assert _scores([src], [src.replace("uni.", "Uni.")])[0] == 1.0


def test_real_translation_passes():
    assert _scores(["Die Zimmer waren sauber und ruhig."], ["The rooms were clean and quiet."])[0] == 0.0


def test_short_sources_and_same_language_pairs_are_not_scored():
    assert math.isnan(_scores(["Angela Merkel"], ["Angela Merkel"])[0])
    same = _scores(["The rooms were clean and quiet."], ["The rooms were clean and quiet."], "en", "en")
    assert math.isnan(same[0])


def test_trigram_jaccard_bounds():
    assert trigram_jaccard("abcdef", "abcdef") == 1.0
    assert trigram_jaccard("abcdef", "uvwxyz") == 0.0
    assert trigram_jaccard("", "abc") == 0.0
