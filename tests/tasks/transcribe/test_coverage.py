"""Speech left out: VAD regions against segment timestamps, and splicing a retry in time order."""
import json

import pytest

from tasks.guards.asr.settings import SpeechCoverageSettings
from tasks.inference.asr_client import AsrResult
from tasks.transcribe.coverage import missing_reason, splice, uncovered_speech
from tasks.transcribe.guard import drop_non_words

EXACT = SpeechCoverageSettings(segment_pad_s=0.0, min_gap_s=0.0)


def seg(start, end, text="words", language="en", **extra):
    return {"start": start, "end": end, "text": text, "language": language, "avg_logprob": -0.3,
            "no_speech_prob": 0.05, **extra}


def test_uncovered_pieces_of_each_region():
    regions = [{"start": 0.0, "end": 15.0, "language": "en"}, {"start": 17.0, "end": 29.0, "language": "de"}]
    segments = [seg(0.0, 4.0), seg(5.0, 14.6), seg(14.6, 18.5, "Welcome to the new office.")]
    gaps = uncovered_speech(regions, segments, EXACT)
    assert [(g.start, g.end, g.language) for g in gaps] == [(4.0, 5.0, "en"), (18.5, 29.0, "de")]
    assert sum(g.seconds for g in gaps) == pytest.approx(1.0 + 10.5)
    # the default tolerance covers pauses inside a region; the German half stays uncovered
    default = uncovered_speech(regions, segments)
    assert [(g.start, g.end) for g in default] == [(20.0, 29.0)]
    assert "9.0 s not covered" in missing_reason(default) and "(de)" in missing_reason(default)


def test_non_word_segments_cover_nothing_and_no_regions_means_nothing_missing():
    regions = [{"start": 0.0, "end": 6.0}]
    assert sum(g.seconds for g in uncovered_speech(regions, [seg(0.0, 6.0, "...")], EXACT)) == 6.0
    assert uncovered_speech([], [seg(0.0, 6.0)], EXACT) == []
    assert uncovered_speech(regions, [seg(0.0, 6.0)], EXACT) == []


def test_splice_merges_segments_in_time_order():
    first = AsrResult(text="Hello there.", language="en", languages=["en"], model="whisper-tiny.en",
                      segments=json.dumps([seg(0.0, 3.0, "Hello there.")]), avg_logprob=-0.2, no_speech_prob=0.1,
                      speech_regions=json.dumps([{"start": 0.0, "end": 12.0}]))
    retry = AsrResult(text="Guten Tag. ...", language="de", model="whisper-base",
                      segments=json.dumps([seg(6.0, 11.0, "Guten Tag, wie geht es Ihnen?", "de"),
                                           seg(11.0, 12.0, "...")]))
    spliced = splice(first, retry)
    assert spliced.text == "Hello there. Guten Tag, wie geht es Ihnen?"
    assert [s["start"] for s in spliced.segment_list] == [0.0, 6.0]
    assert spliced.languages == ["de", "en"] and spliced.language == "de"
    assert spliced.model == "whisper-tiny.en,whisper-base" and spliced.speech_regions == first.speech_regions


@pytest.mark.parametrize("text", ["...", "♪", "[Music]", "(music)"])
def test_drop_non_words_gives_the_silent_clip_result(text):
    result = AsrResult(text=text, language="nn", avg_logprob=-1.2, no_speech_prob=0.4, compression_ratio=0.5,
                       segments=json.dumps([seg(0.0, 2.0, text)]))
    empty = drop_non_words(result)
    assert (empty.text, empty.segment_list, empty.no_speech_prob, empty.compression_ratio) == ("", [], 1.0, 0.0)
    kept = AsrResult(text="Hi.", segments=json.dumps([seg(0.0, 1.0, "Hi."), seg(1.0, 2.0, text)]))
    assert drop_non_words(kept).text == "Hi." and len(drop_non_words(kept).segment_list) == 1
    assert drop_non_words(AsrResult(error="undecodable")).error == "undecodable" and drop_non_words(None) is None


def test_merge_channels_rebuilds_the_row_in_time_order():
    from tasks.transcribe.coverage import merge_channels

    left = AsrResult(text="Hello, support desk.", model="whisper-tiny.en",
                     segments=json.dumps([seg(0.0, 3.0, "Hello, support desk.")]),
                     speech_regions=json.dumps([{"start": 0.0, "end": 3.2}]))
    right = AsrResult(text="My internet drops.", model="whisper-tiny.en",
                      segments=json.dumps([seg(3.5, 6.0, "My internet drops.")]),
                      speech_regions=json.dumps([{"start": 3.4, "end": 6.2}]))
    row = merge_channels(AsrResult(text="", channels=[left, right]), [left, right])
    assert row.text == "[ch0] Hello, support desk. [ch1] My internet drops."
    assert [s["channel"] for s in row.segment_list] == [0, 1] and [g["channel"] for g in row.region_list] == [0, 1]
    assert row.channels == [left, right] and row.model == "whisper-tiny.en" and row.languages == ["en"]
