"""Word error rate for the speech benchmarks, tests and demo: our text normalisation, `jiwer`'s alignment.

normalize_words(text)                        lower case, no punctuation, hyphens split, 0-10 spelled out
word_error_rate(references, hypotheses)      corpus WER: all word edits over all reference words
"""
from __future__ import annotations

import re
import unicodedata

import jiwer

_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
            "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def normalize_words(text: str) -> list[str]:
    """Lower case, no punctuation (hyphens split words, apostrophes kept), digits 0-10 spelled out."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("-", " ")
    words = re.sub(r"[^\w\s']", " ", text).split()
    return [_NUMBERS.get(w, w) for w in (w.strip("'") for w in words) if w]


class _NormalizeWords(jiwer.AbstractTransform):
    """jiwer transform: each sentence to its list of normalised words (an empty sentence stays, as [])."""

    def process_string(self, s: str) -> list[list[str]]:
        return [normalize_words(s)]

    def process_list(self, inp: list[str]) -> list[list[str]]:
        return [normalize_words(s) for s in inp]


_TRANSFORM = _NormalizeWords()


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: word edits (substitutions + insertions + deletions) over all reference words; 0.0 when
    the references hold no word. Unequal lists raise ValueError."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        return 0.0
    out = jiwer.process_words(list(references), list(hypotheses),
                              reference_transform=_TRANSFORM, hypothesis_transform=_TRANSFORM)
    reference_words = out.hits + out.substitutions + out.deletions
    edits = out.substitutions + out.insertions + out.deletions
    return edits / reference_words if reference_words else 0.0
