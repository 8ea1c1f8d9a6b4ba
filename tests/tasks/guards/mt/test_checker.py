
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.guards.mt.check_file import MissingColumnsError, check_mt_file, score_table
from tasks.guards.mt.checker import DETECTOR_NAMES, score_sentence_groups, score_translations
from tasks.guards.mt.settings import MTGuardSettings

GOOD = [
    (
        "Die Zimmer waren sauber und das Frühstück war sehr gut.",
        "The rooms were clean and the breakfast was very good.",
        "de",
        "en",
    ),
    (
        "Der Zug nach München fährt um 19.30 Uhr ab und kostet 1.250 Euro.",
        "The train to Munich leaves at 7.30 p.m. and costs 1,250 euros.",
        "de",
        "en",
    ),
    ("The staff were very friendly and helpful.", "スタッフはとても親切でした。", "en", "ja"),
    ("The staff were very friendly and helpful.", "员工非常友好和乐于助人。", "en", "zh"),
    (
        "Weitere Informationen finden Sie unter https://www.example.com/faq.",
        "More information is available at https://www.example.com/faq.",
        "de",
        "en",
    ),
]
BAD = {
    "oscillation": ("Die Schleimhaut füllt die Nasenhöhle aus.", "The mucous " + "mucous " * 25, "de", "en"),
    "wrong_language": (
        "Die Zimmer waren sauber und das Frühstück war sehr gut.",
        "Les chambres étaient propres et le petit déjeuner était très bon.",
        "de",
        "en",
    ),
    "copy": (
        "Die Zimmer waren sauber und das Frühstück war sehr gut.",
        "Die Zimmer waren sauber und das Frühstück war sehr gut.",
        "de",
        "en",
    ),
    "detached": (
        "Die Phoneme werden dem übergeordneten Sprachsystem zugeordnet.",
        "The staff were very friendly and helpful.",
        "de",
        "en",
    ),
}


def _run(rows, logprob=None):
    src, mt, src_lang, tgt_lang = map(list, zip(*rows))
    return score_translations(src, mt, src_lang, tgt_lang, logprob, MTGuardSettings())


def test_good_translations_are_not_flagged():
    results = _run(GOOD)
    assert [r.flagged for r in results] == [False] * len(GOOD), [r.reasons for r in results]


@pytest.mark.parametrize("case", sorted(BAD))
def test_hallucinations_are_flagged_with_a_reason(case):
    (result,) = _run([BAD[case]])
    assert result.flagged and result.reasons
    assert result.hallucination_score >= MTGuardSettings().combine.threshold
    assert set(result.detector_scores) == set(DETECTOR_NAMES)


def test_logprob_is_optional_and_used_when_present():
    row = GOOD[0]
    confident, unsure = _run([row, row], logprob=[-0.1, -4.0])
    assert unsure.hallucination_score > confident.hallucination_score
    assert unsure.detector_scores["logprob"] > 0.9


def test_score_table_keeps_every_column_and_adds_guard_columns():
    table = pa.table(
        {
            "id": [1, 2],
            "src": [GOOD[0][0], BAD["copy"][0]],
            "mt": [GOOD[0][1], BAD["copy"][1]],
            "src_lang": ["de", "de"],
            "tgt_lang": ["en", "en"],
            "flagged": ["old", "old"],
        }
    )
    out = score_table(table)
    assert out.column("id").to_pylist() == [1, 2]
    assert out.column("flagged").to_pylist() == [False, True]  # stale output column replaced
    assert out.schema.field("reasons").type == pa.list_(pa.string())
    assert {f"{name}_score" for name in DETECTOR_NAMES} <= set(out.column_names)


def test_check_mt_file_csv_to_parquet(tmp_path):
    csv_path = tmp_path / "rows.csv"
    lines = ["id,src,mt,src_lang,tgt_lang,note"]
    lines += [f'{i},"{s}","{m}",{a},{b},0012' for i, (s, m, a, b) in enumerate([GOOD[0], BAD["oscillation"]])]
    csv_path.write_text("\n".join(lines) + "\n")
    summary = check_mt_file(csv_path, tmp_path / "out" / "scored.parquet")
    out = pq.read_table(tmp_path / "out" / "scored.parquet")
    assert (summary.rows, summary.flagged) == (2, 1)
    assert out.column_names == [
        "id",
        "src",
        "mt",
        "src_lang",
        "tgt_lang",
        "note",
        "hallucination_score",
        "flagged",
        "reasons",
        "flagged_sentences",
    ]
    assert out.column("src").to_pylist()[0] == GOOD[0][0]
    assert out.column("flagged_sentences").to_pylist() == [[], [0]]


def test_check_mt_file_scores_a_file_in_chunks_as_it_would_whole(tmp_path):
    """check-mt reads, scores and writes `chunk_rows` at a time: the output is the same as one pass."""
    rows = GOOD + [BAD["detached"], BAD["oscillation"]]
    src, mt, a, b = map(list, zip(*rows))
    table = pa.table({"id": list(range(len(rows))), "src": src, "mt": mt, "src_lang": a, "tgt_lang": b})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=3)
    whole = check_mt_file(tmp_path / "in.parquet", tmp_path / "whole.parquet", chunk_rows=100)
    chunked = check_mt_file(tmp_path / "in.parquet", tmp_path / "chunked.parquet", chunk_rows=2)
    assert (chunked.rows, chunked.flagged) == (whole.rows, whole.flagged) == (len(rows), 2)
    a, b = pq.read_table(tmp_path / "chunked.parquet"), pq.read_table(tmp_path / "whole.parquet")
    assert a.schema == b.schema and a.drop_columns(["hallucination_score"]).equals(b.drop_columns(["hallucination_score"]))
    # the encoder pads each batch to its longest text: scores agree to float precision, not bit for bit
    assert np.allclose(a.column("hallucination_score").to_numpy(), b.column("hallucination_score").to_numpy(),
                       atol=1e-5)
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("src,mt,src_lang,tgt_lang\n" + "".join(",".join(f'"{v}"' for v in r) + "\n" for r in rows))
    from_csv = check_mt_file(csv_path, tmp_path / "from_csv.parquet", chunk_rows=3)
    assert (from_csv.rows, from_csv.flagged) == (len(rows), 2)
    empty = tmp_path / "empty.csv"
    empty.write_text("src,mt,src_lang,tgt_lang\n")
    assert check_mt_file(empty, tmp_path / "empty.parquet").rows == 0
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0


def test_check_mt_file_parquet_with_logprob(tmp_path):
    src, mt, a, b = GOOD[0]
    pq.write_table(
        pa.table({"src": [src], "mt": [mt], "src_lang": [a], "tgt_lang": [b], "logprob": [None]}),
        tmp_path / "in.parquet",
    )
    check_mt_file(tmp_path / "in.parquet", tmp_path / "out.parquet", detector_columns=True)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("logprob_score").to_pylist() == [None]
    assert out.column("flagged").to_pylist() == [False]


def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("src,translation,src_lang,tgt_lang\na,b,de,en\n")
    with pytest.raises(MissingColumnsError, match=r"bad\.csv.*'mt'"):
        check_mt_file(path, tmp_path / "out.parquet")


def test_empty_translation_of_a_real_source_is_flagged():
    (empty, both_empty) = score_translations([GOOD[0][0], ""], ["", ""], ["de", "de"], ["en", "en"])
    assert empty.flagged and empty.reasons[0] == "empty translation"
    assert not both_empty.flagged


def test_a_translation_of_an_empty_source_is_flagged(tmp_path):
    """check-mt on rows made elsewhere: a translation whose source cell is null or blank has nothing to
    support it and no detector can judge it; it was scored 0.01 and passed."""
    path = tmp_path / "rows.csv"
    path.write_text('src,mt,src_lang,tgt_lang\n,"The staff were very friendly and helpful.",de,en\n'
                    '" ","Hello.",de,en\n,,de,en\n')
    check_mt_file(path, tmp_path / "out.parquet")
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [(r["flagged"], r["reasons"][:1]) for r in out] == [
        (True, ["translation of an empty source"]), (True, ["translation of an empty source"]), (False, [])]


def test_detectors_can_be_switched_off():
    settings = MTGuardSettings()
    settings.similarity.enabled = False
    (result,) = score_translations(*map(list, zip(BAD["oscillation"])), settings=settings)
    assert result.flagged
    assert result.detector_scores["similarity"] != result.detector_scores["similarity"]  # NaN: not run


def test_a_document_is_judged_by_its_sentences_and_names_the_bad_one(tmp_path):
    (g1, m1, *_), (g2, m2, *_), (bad_src, bad_mt, *_) = GOOD[0], GOOD[1], BAD["detached"]
    document_src, document_mt = f"{g1} {bad_src}\n\n{g2}", f"{m1} {bad_mt}\n\n{m2}"
    category = pa.dictionary(pa.int32(), pa.string())
    table = pa.table({
        "src": pa.array([document_src, f"{g1} {g2}"]).cast(category), "mt": [document_mt, f"{m1} {m2}"],
        "src_lang": pa.array(["de", "de"]).cast(category), "tgt_lang": ["en", "en"]})
    pq.write_table(table, tmp_path / "docs.parquet")
    check_mt_file(tmp_path / "docs.parquet", tmp_path / "out.parquet")
    bad, good = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert bad["flagged"] and bad["flagged_sentences"] == [1]
    assert bad["reasons"][0].startswith("sentence 1: similarity")
    assert not good["flagged"] and good["flagged_sentences"] == []
    # the same document scored as one unit (segment=False) hides the bad sentence among the good ones
    whole = score_table(table, segment=False, detector_columns=False).to_pylist()[0]
    assert whole["hallucination_score"] < bad["hallucination_score"]


def test_a_long_text_scores_no_higher_per_sentence_than_the_same_sentence_alone():
    """The worst sentence of n is mapped for n: one row's false-positive rate stays at the calibrated rate."""
    src, mt, a, b = BAD["detached"]
    alone = score_table(pa.table({"src": [src], "mt": [mt], "src_lang": [a], "tgt_lang": [b]}), detector_columns=False)
    g, m, *_ = GOOD[0]
    long = score_table(pa.table({"src": [" ".join([g] * 9 + [src])], "mt": [" ".join([m] * 9 + [mt])],
                                 "src_lang": [a], "tgt_lang": [b]}), detector_columns=False)
    assert long.column("hallucination_score")[0].as_py() <= alone.column("hallucination_score")[0].as_py()
    assert long.column("flagged_sentences")[0].as_py() in ([], [9])


def test_a_loop_flags_a_text_of_any_length():
    """A degenerate loop (26 repeats) is flagged like an empty translation, whatever the text's length:
    by its score alone (0.87) it would not survive the worst-of-n mapping past ~10 sentences."""
    (good_src, good_mt, a, b), (bad_src, bad_mt, *_) = GOOD[0], BAD["oscillation"]
    src, mt = [good_src] * 150, [good_mt] * 150
    src[97], mt[97] = bad_src, bad_mt
    verdict, = score_sentence_groups(src, mt, [a] * 150, [b] * 150, None, [0] * 150, 1)
    assert verdict.flagged and verdict.flagged_sentences == [97]
    assert verdict.reasons[0].startswith("sentence 97: repetition")
    muted = MTGuardSettings.model_validate({"repetition": {"weight": 0.0}})  # a detector of weight 0 has no say
    verdict, = score_sentence_groups(src, mt, [a] * 150, [b] * 150, None, [0] * 150, 1, muted)
    assert 97 not in verdict.flagged_sentences


def test_a_long_text_with_many_detached_sentences_is_flagged_and_names_them_all():
    """10 of 40 sentences detached ("The staff were very friendly and helpful.", 0.90 alone): none is
    rare enough for a 40-sentence text on its own, so judged by its worst sentence the text passed as ok
    (0.10) and re-decoding would have retried none of them. The count test flags it and names all ten;
    two such sentences in 40 are what good texts have, and do not flag."""
    (good_src, good_mt, a, b), (bad_src, bad_mt, *_) = GOOD[0], BAD["detached"]
    src, mt = [good_src] * 40, [good_mt] * 40
    for i in range(0, 40, 4):
        src[i], mt[i] = bad_src, bad_mt
    verdict, = score_sentence_groups(src, mt, [a] * 40, [b] * 40, None, [0] * 40, 1)
    assert verdict.flagged and verdict.flagged_sentences == list(range(0, 40, 4))
    assert verdict.reasons[0].startswith("sentences 0, 4, 8, 12, 16, 20, 24, 28, 32, 36: 10 of 40 score at or above")
    worst_only = MTGuardSettings.model_validate({"combine": {"several_flagged_share": 0.0}})
    verdict, = score_sentence_groups(src, mt, [a] * 40, [b] * 40, None, [0] * 40, 1, worst_only)
    assert not verdict.flagged and verdict.hallucination_score < 0.2
    src, mt = [good_src] * 40, [good_mt] * 40
    src[3], mt[3], src[30], mt[30] = bad_src, bad_mt, bad_src, bad_mt
    verdict, = score_sentence_groups(src, mt, [a] * 40, [b] * 40, None, [0] * 40, 1)
    assert not verdict.flagged and verdict.flagged_sentences == []


def test_a_text_over_the_curves_reach_can_still_be_flagged_by_its_score():
    """The worst-of-n mapping is bounded by what the good-sentence curve measures: past ~30 sentences a
    text is mapped as 30. Unbounded, no sentence of a text over ~65 sentences could ever flag, however
    high it scored."""
    good_src, good_mt, a, b = GOOD[0]
    bad_src = BAD["detached"][0]  # detached, in French, with invented numbers: every detector but a loop's
    bad_mt = ("Les chambres étaient propres et le petit déjeuner était très bon, nous reviendrons en 2019, 2020 et "
              "2021 avec nos enfants, nos amis de Lyon et toute la famille pour les vacances de printemps.")
    src, mt = [good_src] * 150, [good_mt] * 150
    src[12], mt[12] = bad_src, bad_mt
    alone, = score_translations([bad_src], [bad_mt], [a], [b])
    assert alone.hallucination_score > 0.97 and not alone.certain
    verdict, = score_sentence_groups(src, mt, [a] * 150, [b] * 150, None, [0] * 150, 1)
    assert verdict.flagged and verdict.flagged_sentences == [12]


def test_an_unchecked_language_is_in_the_reasons_once_per_text():
    from tasks.guards.mt.checker import score_documents

    [one] = score_translations(["Das ist gut."], ["Maikaʻi kēia mea nō."], ["de"], ["haw"])
    assert any(r.startswith("language: not checked") and "'haw'" in r for r in one.reasons)
    [text] = score_documents(["Das Hotel ist gut. Das Personal war freundlich."],
                             ["Maikaʻi ka hōkele. Ua lokomaikaʻi nā limahana."], ["de"], ["haw"])
    assert sum("language: not checked" in r for r in text.reasons) == 1
