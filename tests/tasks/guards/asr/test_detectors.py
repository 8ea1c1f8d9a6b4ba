import math

import numpy as np
import pytest

from tasks.guards.asr.batch import TranscriptBatch, has_content, normalise_transcript
from tasks.guards.asr.detectors import (
    CompressionRatioDetector,
    NonSpeechPhraseDetector,
    NoSpeechProbDetector,
    NoSpeechTextDetector,
    SpeechRateDetector,
    TranscriptRepetitionDetector,
    compression_ratio,
    windowed_compression_ratio,
)
from tasks.guards.asr.settings import (
    ASRRepetitionSettings,
    CompressionRatioSettings,
    NonSpeechPhraseSettings,
    NoSpeechProbSettings,
    NoSpeechTextSettings,
    SpeechRateSettings,
)

SPEECH = "The quick brown fox jumps over the lazy dog."


def batch(text, avg_logprob=-0.4, no_speech_prob=0.1, compression_ratio=None, duration_s=4.0, speech_s=3.5):
    """One-row batch; compression_ratio defaults to the real measure of the text."""
    ratio = compression_ratio if compression_ratio is not None else globals()["compression_ratio"](text)
    return TranscriptBatch.build([text], [avg_logprob], [no_speech_prob], [ratio], [duration_s], [speech_s], ["en"])


def score(detector, **row):
    result = detector.score(batch(**row))
    return result.scores[0], result.details[0]


def test_batch_build_fills_unknowns_and_checks_lengths():
    b = TranscriptBatch.build(["a", None], speech_s=[1.0, None], language=["en-US", None])
    assert b.text == ["a", ""] and b.language == ["en", ""]
    assert math.isnan(b.speech_s[1]) and np.isnan(b.avg_logprob).all()
    with pytest.raises(ValueError, match="speech_s"):
        TranscriptBatch.build(["a"], speech_s=[1.0, 2.0])


def test_content_and_normalisation():
    assert not has_content("") and not has_content(" . ") and not has_content("♪") and has_content("7")
    assert normalise_transcript("Thanks for watching!") == "thanks for watching"
    assert normalise_transcript("Untertitel der Amara.org-Community") == "untertitel der amara org community"
    assert normalise_transcript("♪♪ la") == "♪ ♪ la"


def test_no_speech_text():
    detector = NoSpeechTextDetector(NoSpeechTextSettings())
    value, detail = score(detector, text="you", speech_s=0.0)
    assert value == 1.0 and "0.00 s of speech" in detail
    assert score(detector, text=SPEECH, speech_s=3.2)[0] == 0.0
    # a short word: silero pads speech by 0.4 s, so real speech never reads as ~0
    assert score(detector, text="Yes.", duration_s=0.8, speech_s=0.6)[0] == 0.0
    # empty transcript of silence is right; unknown speech_s is not scored
    assert math.isnan(score(detector, text="", speech_s=0.0)[0])
    assert math.isnan(score(detector, text=".", speech_s=0.0)[0])
    assert math.isnan(score(detector, text="you", speech_s=None)[0])


def test_no_speech_prob_needs_both_signals():
    detector = NoSpeechProbDetector(NoSpeechProbSettings())
    assert score(detector, text="you", no_speech_prob=0.9, avg_logprob=-1.3)[0] == 1.0
    assert score(detector, text="Beep beep", no_speech_prob=0.9, avg_logprob=-0.1)[0] == 0.0  # confident
    assert score(detector, text=SPEECH, no_speech_prob=0.05, avg_logprob=-1.4)[0] == 0.0  # unsure speech
    value, detail = score(detector, text="I'm sorry.", no_speech_prob=0.7, avg_logprob=-0.9)
    assert 0 < value < 1 and "no_speech_prob 0.70" in detail


def test_compression_ratio_over_whisper_limit():
    detector = CompressionRatioDetector(CompressionRatioSettings())
    value, detail = score(detector, text="Beep " * 60, compression_ratio=None)
    assert value == 1.0 and "Whisper's limit 2.4" in detail
    assert score(detector, text=SPEECH)[0] == 0.0
    # the model's value is used for short texts
    assert score(detector, text=SPEECH, compression_ratio=2.5)[0] == 1.0


def test_long_fluent_transcript_is_measured_per_window():
    sentences = [
        "The committee met on Monday to discuss the budget for next year.",
        "Several members asked for more money for schools and public transport.",
        "The mayor said the city could not raise taxes again this spring.",
        "A local business owner proposed a new market near the river bank.",
        "After a long debate the vote was postponed until the next session.",
        "Journalists waited outside the town hall for an official statement.",
    ]
    long_text = " ".join(sentences * 6)  # a long recording that keeps its topic
    assert compression_ratio(long_text) > 2.4  # the whole text compresses well...
    assert windowed_compression_ratio(long_text, 400) < 2.4  # ...a 30 s window of it does not
    detector = CompressionRatioDetector(CompressionRatioSettings())
    assert score(detector, text=long_text, duration_s=600, speech_s=560)[0] < 0.5


def test_speech_rate_flags_only_too_much_text():
    detector = SpeechRateDetector(SpeechRateSettings())
    value, detail = score(detector, text="I'm going to go back to the next one and then we will see.", speech_s=0.5)
    assert value == 1.0 and "letters per second" in detail
    # fast but real speech: 41 letters in 1.84 s (espeak at 260 words/min)
    assert score(detector, text="Please send the report to the team before Friday.", speech_s=1.84)[0] == 0.0
    # a short word on a short clip
    assert score(detector, text="Yes.", duration_s=0.5, speech_s=0.4)[0] == 0.0
    # long speech with almost no text is a miss, not a hallucination
    assert score(detector, text="OK.", duration_s=30, speech_s=28)[0] == 0.0
    # CJK counts script-weighted: 12 Han characters in 3 s is ordinary speech
    assert score(detector, text="今天天气很好我们去公园散步", speech_s=3.0)[0] == 0.0


def test_speech_rate_falls_back_to_audio_length():
    detector = SpeechRateDetector(SpeechRateSettings())
    value, detail = score(detector, text="word " * 40, duration_s=2.0, speech_s=None)
    assert value == 1.0 and "of audio" in detail


def test_repetition_loops_but_not_ordinary_repeats():
    detector = TranscriptRepetitionDetector(ASRRepetitionSettings())
    value, detail = score(detector, text="No, " * 20 + "no.")
    assert value == 1.0 and "'no' repeated" in detail
    assert score(detector, text="1.0.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1")[0] == 1.0
    assert score(detector, text="Yn yw'n ddol, yw'n ddol, yw'n ddol, yw'n ddol, yw'n ddol, yw'n ddol")[0] == 1.0
    assert score(detector, text="No, no, no, not that one, the blue one.")[0] == 0.0
    assert score(detector, text="It was very, very good.")[0] == 0.0
    assert score(detector, text="Hahahahahahaha, that was funny.")[0] == 0.0
    assert score(detector, text=SPEECH)[0] == 0.0


def test_non_speech_phrases_on_near_silent_audio():
    detector = NonSpeechPhraseDetector(NonSpeechPhraseSettings())
    for text in ("Thank you for watching!", "Thanks for watching.", "you", "Bye.", "[Music] Bye.",
                 "Please subscribe to my channel.", "Vielen Dank fürs Zuschauen!", "Merci d'avoir regardé.",
                 "ご視聴ありがとうございました"):
        value, detail = score(detector, text=text, speech_s=0.0)
        assert value == 1.0, text
        assert "known non-speech phrase" in detail
    # a real "thank you" with plenty of speech, and a sentence that merely contains one
    assert score(detector, text="Thank you.", duration_s=2.0, speech_s=1.6)[0] == 0.0
    assert score(detector, text="Thank you for coming, and have a safe trip home.", speech_s=0.0)[0] == 0.0
    # closers with unknown speech are not scored
    assert math.isnan(score(detector, text="you", speech_s=None)[0])


def test_subtitle_credits_score_whatever_the_audio():
    detector = NonSpeechPhraseDetector(NonSpeechPhraseSettings())
    value, detail = score(detector, text="Untertitel der Amara.org-Community", speech_s=3.0)
    assert value == 1.0 and "subtitle credit" in detail
    assert score(detector, text="Untertitelung im Auftrag des ZDF, 2017", speech_s=None)[0] == 1.0
    assert score(detector, text="Sous-titrage Société Radio-Canada", speech_s=2.0)[0] == 1.0
    assert score(detector, text="Die Untertitel sind heute besser als früher.", speech_s=3.0)[0] == 0.0


def test_phrase_patterns_are_validated():
    with pytest.raises(ValueError, match="not a valid regular expression"):
        NonSpeechPhraseSettings(phrases=["(unclosed"])
