"""ASR hallucination detectors: each scores every transcript in [0, 1] (NaN: does not apply) with a
short reason. Only transcripts with words (a letter or digit outside bracketed annotations, the one
rule for non-words of tasks.guards.asr.nonwords) are scored: an empty transcript of silent audio is
the right answer, '...', '♪' or '[Music]' is empty text, and too little text is not a hallucination.

no_speech_text     text where silero VAD found no speech (speech_s ~ 0)
no_speech_prob     Whisper's silence rule: high no_speech_prob AND low avg_logprob
compression_ratio  gzip ratio above Whisper's 2.4 (loops), per ~30 s window of text
speech_rate        more letters per second of speech than anyone speaks
repetition         n-gram loops, near repeats, repeated phrases, character loops (tasks.guards.mt.repetition)
non_speech_phrase  'Thank you for watching', 'you', '♪' on near-silent audio; subtitle credits anywhere
                   (tasks.guards.asr.phrases)
"""

from __future__ import annotations

import zlib

import numpy as np

from tasks.guards.asr.batch import TranscriptBatch, TranscriptDetector, content_chars, has_content
from tasks.guards.asr.phrases import NonSpeechPhraseDetector
from tasks.guards.asr.settings import (
    ASRRepetitionSettings,
    CompressionRatioSettings,
    NoSpeechProbSettings,
    NoSpeechTextSettings,
    SpeechRateSettings,
)
from tasks.guards.mt.length import weighted_length
from tasks.guards.mt.repetition import char_loops, longest_run, near_repeats, repeated_bigrams
from tasks.guards.scores import DetectorResult, ramp
from tasks.guards.text import tokens

__all__ = [
    "ASR_DETECTORS",
    "CompressionRatioDetector",
    "NoSpeechProbDetector",
    "NoSpeechTextDetector",
    "NonSpeechPhraseDetector",
    "SpeechRateDetector",
    "TranscriptBatch",
    "TranscriptDetector",
    "TranscriptRepetitionDetector",
    "compression_ratio",
    "windowed_compression_ratio",
]


def _empty(batch: TranscriptBatch) -> tuple[np.ndarray, list[str]]:
    return np.full(len(batch), np.nan), [""] * len(batch)


class NoSpeechTextDetector(TranscriptDetector):
    """Text although voice-activity detection found no speech in the clip."""

    name = "no_speech_text"
    settings: NoSpeechTextSettings

    def score(self, batch: TranscriptBatch) -> DetectorResult:
        scores, details = _empty(batch)
        usable = batch.with_content() & np.isfinite(batch.speech_s)
        s = self.settings
        scores[usable] = 1.0 - ramp(batch.speech_s[usable], s.silent_speech_s, s.some_speech_s)
        for i in np.flatnonzero(usable & (scores > 0)):
            audio = f" in {batch.duration_s[i]:.1f} s of audio" if np.isfinite(batch.duration_s[i]) else ""
            chars = content_chars(batch.text[i])
            details[i] = f"{chars} characters of text, {batch.speech_s[i]:.2f} s of speech (VAD){audio}"
        return DetectorResult(self.name, scores, details)


class NoSpeechProbDetector(TranscriptDetector):
    """Whisper's own 'this was silence' rule as a score: ramp(no_speech_prob) x ramp(-avg_logprob)."""

    name = "no_speech_prob"
    settings: NoSpeechProbSettings

    def score(self, batch: TranscriptBatch) -> DetectorResult:
        scores, details = _empty(batch)
        usable = batch.with_content() & np.isfinite(batch.no_speech_prob) & np.isfinite(batch.avg_logprob)
        s = self.settings
        silence = ramp(batch.no_speech_prob[usable], s.no_speech_start, s.no_speech_full)
        unsure = ramp(-batch.avg_logprob[usable], -s.logprob_start, -s.logprob_full)
        scores[usable] = silence * unsure
        for i in np.flatnonzero(usable & (scores > 0)):
            details[i] = f"no_speech_prob {batch.no_speech_prob[i]:.2f} with avg_logprob {batch.avg_logprob[i]:.2f}"
        return DetectorResult(self.name, scores, details)


def compression_ratio(text: str) -> float:
    """Whisper's measure: UTF-8 bytes / zlib-compressed bytes (0 for '')."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def windowed_compression_ratio(text: str, window_chars: int) -> float:
    """Max compression ratio over windows of `window_chars` (overlapping by half); the whole text when shorter."""
    if len(text) <= window_chars:
        return compression_ratio(text)
    step = max(1, window_chars // 2)
    starts = range(0, len(text) - window_chars + step, step)
    return max(compression_ratio(text[start : start + window_chars]) for start in starts)


class CompressionRatioDetector(TranscriptDetector):
    """Text that compresses like a loop. Short texts use the model's COMPRESSION_RATIO (the same
    measure), longer ones are measured per window here: whole long transcripts compress well anyway."""

    name = "compression_ratio"
    settings: CompressionRatioSettings

    def score(self, batch: TranscriptBatch) -> DetectorResult:
        scores, details = _empty(batch)
        s = self.settings
        for i, text in enumerate(batch.text):
            if not has_content(text):
                continue
            given = batch.compression_ratio[i]
            long_text = len(text) > s.window_chars
            ratio = windowed_compression_ratio(text, s.window_chars) if long_text or not np.isfinite(given) else given
            scores[i] = float(ramp(ratio, s.start, s.full))
            if scores[i] > 0:
                where = f" (max over {s.window_chars}-character windows)" if long_text else ""
                details[i] = f"compression ratio {ratio:.2f}{where}, Whisper's limit {s.full:g}"
        return DetectorResult(self.name, scores, details)


class SpeechRateDetector(TranscriptDetector):
    """More text than the speech can hold: letters (script-weighted) per second of VAD speech, or per
    second of audio where speech_s is unknown. Too little text is never scored."""

    name = "speech_rate"
    settings: SpeechRateSettings

    def score(self, batch: TranscriptBatch) -> DetectorResult:
        scores, details = _empty(batch)
        s = self.settings
        seconds = np.where(np.isfinite(batch.speech_s), batch.speech_s, batch.duration_s)
        for i, text in enumerate(batch.text):
            if not has_content(text) or not np.isfinite(seconds[i]):
                continue
            letters = weighted_length(text, s.script_weights)
            rate = letters / max(seconds[i], s.min_speech_s)
            scores[i] = float(ramp(rate, s.start_letters_per_s, s.full_letters_per_s))
            if scores[i] > 0:
                of = "speech" if np.isfinite(batch.speech_s[i]) else "audio"
                details[i] = f"{rate:.0f} letters per second ({letters:.0f} letters in {seconds[i]:.2f} s of {of})"
        return DetectorResult(self.name, scores, details)


def _is_laughter(unit: str) -> bool:
    """'haha', 'lala', 'hehe': a loop of a one- or two-letter syllable is laughter or singing, not a decoder loop."""
    return any(len(unit) % p == 0 and unit == unit[:p] * (len(unit) // p) for p in (1, 2))


def token_windows(toks: list[str], size: int) -> list[list[str]]:
    """Windows of `size` tokens overlapping by half (one window when shorter)."""
    if len(toks) <= size:
        return [toks]
    step = max(1, size // 2)
    return [toks[start : start + size] for start in range(0, len(toks) - size + step, step)]


class TranscriptRepetitionDetector(TranscriptDetector):
    """The MT repetition measures (tasks.guards.mt.repetition) on the transcript alone, counted per window
    of `window_tokens` and with slack for the repeats people really say ('no, no, no')."""

    name = "repetition"
    settings: ASRRepetitionSettings

    def score(self, batch: TranscriptBatch) -> DetectorResult:
        scores, details = _empty(batch)
        for i, text in enumerate(batch.text):
            if has_content(text):
                scores[i], details[i] = self.score_text(text)
        return DetectorResult(self.name, scores, details)

    def score_text(self, text: str) -> tuple[float, str]:
        """Max over windows of: back-to-back run, near repeats, repeated-phrase share; and character loops."""
        s = self.settings
        best, reason = 0.0, ""
        loops = sorted(u for u in char_loops(text, s.min_unit_chars) if not _is_laughter(u))
        if loops:
            best, reason = 1.0, f"character loop {loops[0]!r} repeated"
        for window in token_windows(tokens(text), s.window_tokens):
            if best >= 1.0:
                break
            run, unit = longest_run(window, s.max_ngram)
            near, near_unit = near_repeats(window, s.near_window)
            share, bigram = repeated_bigrams(window)
            candidates = [
                (
                    float(ramp(run, s.run_start, s.full_run)),
                    lambda unit=unit, run=run: f"{unit!r} repeated {run} times in a row",
                ),
                (
                    float(ramp(near, s.near_start, s.near_full)),
                    lambda near_unit=near_unit, near=near: f"{near_unit!r} comes back within {s.near_window} words "
                    f"({near} times)",
                ),
                (
                    float(ramp(share, s.bigram_start, s.bigram_full)),
                    lambda bigram=bigram, share=share: f"phrase {bigram!r} repeated "
                    f"({share:.0%} of phrases are repeats)",
                ),
            ]
            score, describe = max(candidates, key=lambda c: c[0])
            if score > best:
                best, reason = score, describe()
        return best, reason


ASR_DETECTORS: tuple[type[TranscriptDetector], ...] = (
    NoSpeechTextDetector,
    NoSpeechProbDetector,
    CompressionRatioDetector,
    SpeechRateDetector,
    TranscriptRepetitionDetector,
    NonSpeechPhraseDetector,
)
