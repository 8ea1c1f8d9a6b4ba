"""Known non-speech outputs of Whisper: what it writes on silence, noise and music ('Thank you for
watching', 'you', 'Bye.', '♪', 'Vielen Dank fürs Zuschauen') and subtitle credits from its training
data ('Untertitel der Amara.org-Community').

Closers and fillers are also said for real, so they score only when they make up most of the
transcript (`coverage_start` .. `coverage_full` of its letters) AND the clip has little VAD speech
(`near_silent_s` .. `enough_speech_s`); with unknown speech_s they are not scored. Subtitle credits
are never spoken: any match scores 1.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from tasks.guards.asr.batch import TranscriptBatch, TranscriptDetector, has_content, normalise_transcript
from tasks.guards.asr.settings import NonSpeechPhraseSettings
from tasks.guards.scores import DetectorResult, ramp

# Word boundaries for Latin-script phrases; CJK phrases have no spaces around them to look for.
_LATIN = r"[0-9a-z\u00c0-\u024f]"


@lru_cache(maxsize=64)
def compile_phrases(patterns: tuple[str, ...]) -> re.Pattern:
    """One alternation of the phrase patterns, each matched at (Latin) word boundaries."""
    alternatives = "|".join(f"(?:{p})" for p in patterns) or "(?!)"
    return re.compile(rf"(?<!{_LATIN})(?:{alternatives})(?!{_LATIN})")


def phrase_coverage(normalised: str, pattern: re.Pattern) -> tuple[float, str]:
    """Share of the letters (and music symbols) of `normalised` inside matches, and the longest match."""
    counted = [char.isalnum() or char == "♪" for char in normalised]
    total = sum(counted)
    if not total:
        return 0.0, ""
    covered = [False] * len(normalised)
    longest = ""
    position = 0
    while position <= len(normalised):
        match = pattern.search(normalised, position)
        if not match:
            break
        if match.end() == match.start():
            position = match.end() + 1
            continue
        covered[match.start() : match.end()] = [True] * (match.end() - match.start())
        longest = max(longest, match.group(0), key=len)
        position = match.end()
    return sum(c and k for c, k in zip(covered, counted)) / total, longest


class NonSpeechPhraseDetector(TranscriptDetector):
    """Whisper's stock phrases for non-speech on near-silent audio, and subtitle credits anywhere."""

    name = "non_speech_phrase"
    settings: NonSpeechPhraseSettings

    def __init__(self, settings: NonSpeechPhraseSettings) -> None:
        super().__init__(settings)
        self.phrases = compile_phrases(tuple(settings.phrases))
        self.credits = compile_phrases(tuple(settings.credit_phrases))

    def score(self, batch: TranscriptBatch) -> DetectorResult:
        n = len(batch)
        scores, details = np.full(n, np.nan), [""] * n
        for i, text in enumerate(batch.text):
            if has_content(text):
                scores[i], details[i] = self.score_text(text, float(batch.speech_s[i]))
        return DetectorResult(self.name, scores, details)

    def score_text(self, text: str, speech_s: float) -> tuple[float, str]:
        """(score, detail); NaN when only a closer/filler could match and speech_s is unknown."""
        s = self.settings
        normalised = normalise_transcript(text)
        credit = self.credits.search(normalised)
        if credit:
            return 1.0, f"subtitle credit {credit.group(0)!r}"
        coverage, phrase = phrase_coverage(normalised, self.phrases)
        phrase_score = float(ramp(coverage, s.coverage_start, s.coverage_full))
        if not np.isfinite(speech_s):
            return (np.nan, "") if phrase_score > 0 else (0.0, "")
        quiet = 1.0 - float(ramp(speech_s, s.near_silent_s, s.enough_speech_s))
        score = phrase_score * quiet
        if score <= 0:
            return 0.0, ""
        return score, f"known non-speech phrase {phrase!r} ({coverage:.0%} of the text) with {speech_s:.2f} s of speech"
