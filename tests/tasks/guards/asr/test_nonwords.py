"""The one rule for non-words, and the engine's copy of it (the Triton model imports no tasks code)."""
import importlib.util
from pathlib import Path

import pytest

from tasks.guards.asr import nonwords as asr_nonwords
from tasks.guards.asr.batch import has_content
from tasks.guards.asr.checker import score_transcripts

ENGINE_COPY = Path(__file__).resolve().parents[4] / "triton" / "model_repository" / "transcribe" / "1" / "non_words.py"
NON_WORDS = ["", "   ", "...", " . ", "♪", "♪ ♪ ♪", "[Music]", "(music)", "[BLANK_AUDIO]", "*laughs*", "(Applause) ...",
             "- -", "[Music] ♪ (upbeat music)", "{noise}", "<silence>", "!?", "…", "🎵🎶"]
WORDS = ["you", "Hello.", "7", "♪ la la la ♪", "[Music] Hello there", "Danke schön", "谢谢", "(laughs) No way!"]


@pytest.mark.parametrize("text", NON_WORDS)
def test_non_words_are_empty_text(text):
    assert asr_nonwords.is_non_words(text) and asr_nonwords.words_or_empty(text) == ""
    assert not has_content(text)


@pytest.mark.parametrize("text", WORDS)
def test_words_are_kept_as_they_are(text):
    assert not asr_nonwords.is_non_words(text) and asr_nonwords.words_or_empty(f" {text} ") == text
    assert has_content(text)


def test_the_engine_applies_the_same_rule():
    spec = importlib.util.spec_from_file_location("engine_non_words", ENGINE_COPY)
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    for text in NON_WORDS + WORDS + [None]:
        assert engine.is_non_words(text) == asr_nonwords.is_non_words(text), text
        assert engine.words_or_empty(text) == asr_nonwords.words_or_empty(text), text


def test_non_words_are_never_flagged_whatever_the_numbers():
    # the silent clip's verdict: not scored, never flagged, even with VAD speech 0 and poor scores
    score, flagged, reasons = score_transcripts({"text": NON_WORDS, "speech_s": [0.0] * len(NON_WORDS),
                                                 "avg_logprob": [-3.0] * len(NON_WORDS),
                                                 "no_speech_prob": [0.99] * len(NON_WORDS)})
    assert not flagged.any() and not any(reasons)
