"""Audio inputs of the speech flows: parquet schema checks and shard plans for an audio-bytes or an
audio-URI column, fetching `s3://` audio objects, per-row checks before inference, and word error
rate (for tests, the demo and the benchmark)."""
from __future__ import annotations

import re
import unicodedata

# ---- word error rate -----------------------------------------------------------------------------

_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
            "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def normalize_words(text: str) -> list[str]:
    """Lower case, no punctuation (hyphens split words, apostrophes kept), digits 0-10 spelled out."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("-", " ")
    words = re.sub(r"[^\w\s']", " ", text).split()
    return [_NUMBERS.get(w, w) for w in (w.strip("'") for w in words) if w]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: word edits (substitutions + insertions + deletions) over all reference words."""
    edits = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref_words = normalize_words(ref)
        edits += edit_distance(ref_words, normalize_words(hyp))
        words += len(ref_words)
    return edits / words if words else 0.0
