"""What every ASR detector takes (a batch of transcripts with Whisper's and VAD's numbers) and the
text helpers they share. Detectors give the MT guards' `DetectorResult` (score + detail per row)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tasks.guards.asr.nonwords import is_non_words
from tasks.guards.scores import DetectorResult
from tasks.guards.text import normalise_lang

MUSIC_SYMBOLS = "♪♫♬🎵🎶🎼"
_MUSIC = re.compile(f"[{MUSIC_SYMBOLS}]")
_NOT_WORD = re.compile(r"[^\w♪]+", re.UNICODE)


def has_content(text: str) -> bool:
    """Words (a letter or digit outside bracketed annotations): '...', '♪', '[Music]' or '' is an empty
    transcript by the one rule for non-words (tasks.guards.asr.nonwords), not a hallucination."""
    return not is_non_words(text)


def content_chars(text: str) -> int:
    """Letters and digits in the text."""
    return sum(1 for char in text if char.isalnum())


def normalise_transcript(text: str) -> str:
    """Case-folded, music symbols as ' ♪ ', everything but word characters as single spaces
    ('Thanks for watching!' -> 'thanks for watching', 'Amara.org-Community' -> 'amara org community')."""
    folded = _MUSIC.sub(" ♪ ", text.casefold()).replace("_", " ")
    return _NOT_WORD.sub(" ", folded).strip()


def _floats(values: Sequence[float | None] | np.ndarray | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} rows, text has {n}")
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


@dataclass(frozen=True)
class TranscriptBatch:
    """Transcripts to check with what the `transcribe` model says about them; NaN where unknown.

    speech_s: seconds of speech silero VAD found in the clip; duration_s: the clip's length;
    avg_logprob / no_speech_prob / compression_ratio: Whisper's numbers over the whole transcript."""

    text: list[str]
    avg_logprob: np.ndarray
    no_speech_prob: np.ndarray
    compression_ratio: np.ndarray
    duration_s: np.ndarray
    speech_s: np.ndarray
    language: list[str]

    def __len__(self) -> int:
        return len(self.text)

    @classmethod
    def build(
        cls,
        text: Sequence[str | None],
        avg_logprob: Sequence[float | None] | None = None,
        no_speech_prob: Sequence[float | None] | None = None,
        compression_ratio: Sequence[float | None] | None = None,
        duration_s: Sequence[float | None] | None = None,
        speech_s: Sequence[float | None] | None = None,
        language: Sequence[str | None] | None = None,
    ) -> TranscriptBatch:
        n = len(text)
        if language is not None and len(language) != n:
            raise ValueError(f"column 'language' has {len(language)} rows, text has {n}")
        return cls(
            text=[t or "" for t in text],
            avg_logprob=_floats(avg_logprob, n, "avg_logprob"),
            no_speech_prob=_floats(no_speech_prob, n, "no_speech_prob"),
            compression_ratio=_floats(compression_ratio, n, "compression_ratio"),
            duration_s=_floats(duration_s, n, "duration_s"),
            speech_s=_floats(speech_s, n, "speech_s"),
            language=[normalise_lang(code) for code in (language if language is not None else [None] * n)],
        )

    def with_content(self) -> np.ndarray:
        """Rows whose transcript has words (the only rows scored)."""
        return np.array([has_content(t) for t in self.text], dtype=bool)


class TranscriptDetector(ABC):
    """One ASR hallucination signal. Subclasses set `name` and implement `score` over a whole batch."""

    name: ClassVar[str]

    def __init__(self, settings) -> None:
        self.settings = settings

    @abstractmethod
    def score(self, batch: TranscriptBatch) -> DetectorResult: ...
