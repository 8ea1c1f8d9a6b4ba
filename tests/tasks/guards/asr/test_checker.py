import math

import numpy as np
import pyarrow as pa
import pytest

from tasks.guards.asr.batch import TranscriptBatch
from tasks.guards.asr.checker import (
    ASR_DETECTOR_NAMES,
    ASR_REDECODE_PARAMETERS,
    MissingTranscriptColumnError,
    guard_transcripts,
    score_asr_table,
    score_transcripts,
)
from tasks.guards.asr.settings import ASRGuardSettings

# (text, avg_logprob, no_speech_prob, compression_ratio, duration_s, speech_s): as `transcribe` returns them
CLEAN = {
    "sentence": ("The quick brown fox jumps over the lazy dog.", -0.5, 0.03, 0.86, 3.4, 3.4),
    "fast speech": ("Please send the report to the team before Friday.", -0.37, 0.18, 0.92, 1.84, 1.84),
    "short yes": ("Yes.", -0.3, 0.2, 0.3, 0.7, 0.7),
    "real thank you": ("Thank you.", -0.4, 0.3, 0.56, 2.0, 1.6),
    "thank you in a sentence": ("Thank you for coming, and have a safe trip home.", -0.49, 0.12, 0.9, 3.2, 3.2),
    "people repeat": ("No, no, no, not that one, the blue one.", -0.6, 0.1, 0.95, 3.7, 3.7),
    "unsure but real": ("The library opened nearly on weekend and", -1.12, 0.23, 0.9, 3.6, 3.6),
    "missed most of a long talk": ("OK.", -0.9, 0.3, 0.4, 30.0, 28.0),
}
HALLUCINATED = {
    "you on silence": ("you", -1.1, 0.74, 0.27, 4.0, 0.0),
    "sentence on noise": ("I'm going to go back to the next one.", -1.62, 0.94, 0.9, 4.0, 0.0),
    "loop on a tone": ("Beep " * 100, -0.04, 0.71, 29.3, 4.0, 0.0),
    "digits on noise": ("1.0" + ".1" * 50, -0.18, 0.71, 14.9, 4.0, 0.0),
    "thanks on music": ("Thank you for watching!", -0.7, 0.5, 0.9, 8.0, 0.2),
    "credit": ("Untertitel der Amara.org-Community", -0.5, 0.5, 1.0, 4.0, 1.2),
    "loop on speech": ("No, " * 40 + "no.", -0.14, 0.57, 12.0, 3.7, 3.7),
}


def _columns(rows):
    text, lp, nsp, cr, dur, sp = map(list, zip(*rows))
    return {"text": text, "avg_logprob": lp, "no_speech_prob": nsp, "compression_ratio": cr, "duration_s": dur,
            "speech_s": sp, "language": ["en"] * len(text)}


def test_clean_speech_is_not_flagged():
    score, flagged, reasons = score_transcripts(_columns(CLEAN.values()))
    assert not flagged.any(), dict(zip(CLEAN, reasons))
    assert (score < ASRGuardSettings().combine.threshold).all()


@pytest.mark.parametrize("case", sorted(HALLUCINATED))
def test_hallucinations_are_flagged_with_a_reason(case):
    score, flagged, reasons = score_transcripts(_columns([HALLUCINATED[case]]))
    assert flagged[0] and reasons[0], (case, score, reasons)
    assert 0 <= score[0] <= 1


def test_empty_transcript_of_silence_is_fine():
    score, flagged, reasons = score_transcripts({"text": ["", "."], "speech_s": [0.0, 0.0], "no_speech_prob": [1, 1]})
    assert not flagged.any() and reasons == [[], []]
    assert np.allclose(score, ASRGuardSettings().combine.leak)


def test_accepts_a_batch_or_columns_and_transcript_alias():
    rows = [HALLUCINATED["you on silence"]]
    from_columns = score_transcripts(_columns(rows))
    batch = TranscriptBatch.build(*map(list, zip(*rows)))
    from_batch = score_transcripts(batch)
    assert from_columns[0][0] == pytest.approx(from_batch[0][0])
    assert score_transcripts({"transcript": ["you"], "speech_s": [0.0]})[1][0]
    with pytest.raises(MissingTranscriptColumnError):
        score_transcripts({"speech_s": [0.0]})
    with pytest.raises(ValueError, match="unknown column"):
        score_transcripts({"text": ["a"], "speech": [0.0]})


def test_settings_change_the_decision():
    rows = _columns([HALLUCINATED["you on silence"]])
    settings = ASRGuardSettings()
    for name in ASR_DETECTOR_NAMES:
        settings.detector_settings(name).enabled = False
    score, flagged, reasons = score_transcripts(rows, settings)
    assert not flagged[0] and reasons == [[]] and score[0] == pytest.approx(settings.combine.leak)
    settings = ASRGuardSettings()
    settings.combine.threshold = 0.999
    assert not score_transcripts(rows, settings)[1][0]


def test_each_strong_detector_flags_on_its_own():
    settings = ASRGuardSettings()
    leak = settings.combine.leak
    for name in ASR_DETECTOR_NAMES:
        weight = settings.detector_settings(name).weight
        assert 1 - (1 - leak) * (1 - weight) >= settings.combine.threshold, name


def test_guard_transcripts_returns_every_detector():
    results, score, flagged, reasons = guard_transcripts(TranscriptBatch.build(["you"], speech_s=[0.0]))
    assert [r.name for r in results] == list(ASR_DETECTOR_NAMES)
    assert len(score) == len(flagged) == len(reasons) == 1


def _asr_table():
    rows = [CLEAN["sentence"], HALLUCINATED["you on silence"], CLEAN["sentence"], ("", -0.0, 1.0, 0.0, 2.0, 0.0)]
    columns = _columns(rows)
    return pa.table({
        "id": ["ok", "bad", "failed", "silent"],
        "transcript": pa.array([columns["text"][0], columns["text"][1], None, ""], pa.string()),
        "language": ["en", "en", None, "en"],
        **{name: pa.array([None if i == 2 else v for i, v in enumerate(columns[name])], pa.float32())
           for name in ("avg_logprob", "no_speech_prob", "compression_ratio", "duration_s", "speech_s")},
        "status": ["ok", "ok", "failed", "ok"],
    })


def test_score_asr_table_adds_the_guard_columns():
    scored = score_asr_table(_asr_table())
    assert scored.column_names[: len(_asr_table().column_names)] == _asr_table().column_names
    assert scored.schema.field("hallucination_score").type == pa.float64()
    assert scored.schema.field("flagged").type == pa.bool_()
    assert scored.schema.field("reasons").type == pa.list_(pa.string())
    rows = scored.to_pylist()
    assert [r["flagged"] for r in rows] == [False, True, False, False]
    assert rows[1]["reasons"] and rows[0]["reasons"] == []
    assert rows[2]["hallucination_score"] is None and rows[2]["reasons"] == []  # not transcribed
    assert rows[3]["hallucination_score"] is not None and not rows[3]["flagged"]  # empty transcript of silence


def test_score_asr_table_skips_rows_not_ok_and_replaces_old_columns():
    table = _asr_table()
    table = table.set_column(table.column_names.index("status"), "status", pa.array(["ok", "failed", "ok", None]))
    scored = score_asr_table(score_asr_table(table), detector_columns=True)
    rows = scored.to_pylist()
    assert scored.column_names.count("flagged") == 1
    assert rows[1]["hallucination_score"] is None and not rows[1]["flagged"]
    assert rows[3]["hallucination_score"] is None  # null status: not transcribed
    assert "no_speech_text_score" in scored.column_names
    assert rows[0]["no_speech_text_score"] == 0.0 and rows[1]["no_speech_text_score"] is None


def test_score_asr_table_needs_only_the_transcript():
    scored = score_asr_table(pa.table({"transcript": ["Beep " * 100, "Hello there."]}))
    assert scored.column("flagged").to_pylist() == [True, False]
    assert all(not math.isnan(v) for v in scored.column("hallucination_score").to_pylist())
    with pytest.raises(MissingTranscriptColumnError, match="transcript"):
        score_asr_table(pa.table({"text": ["a"]}))


def test_redecode_parameters_are_valid_transcribe_parameters():
    from tasks.inference.asr_client import asr_parameters

    params = dict(ASR_REDECODE_PARAMETERS)
    assert params["vad_filter"] is True and params["beam_size"] == 5
    assert params["temperature"] == 0.0 and params["temperature_increment"] > 0
    expected = asr_parameters(vad_filter=True, beam_size=5, **{
        k: v for k, v in params.items() if k not in ("vad_filter", "beam_size")})
    assert params == expected
