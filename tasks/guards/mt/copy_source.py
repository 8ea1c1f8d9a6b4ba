"""Copy-of-source: the translation is (nearly) the source text itself."""

from __future__ import annotations

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import CopySettings
from tasks.guards.scores import DetectorResult, ramp
from tasks.guards.text import char_ngrams, letter_count


def trigram_jaccard(a: str, b: str) -> float:
    """Jaccard overlap of case/accent-folded character trigrams (1.0 = same letters and digits)."""
    grams_a, grams_b = char_ngrams(a), char_ngrams(b)
    if not grams_a or not grams_b:
        return 0.0
    return len(grams_a & grams_b) / len(grams_a | grams_b)


class CopySourceDetector(Detector):
    """High surface overlap between source and translation across different languages."""

    name = "copy_source"
    settings: CopySettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details = [""] * n
        for i, (src, mt) in enumerate(zip(batch.src, batch.mt)):
            same_language = batch.src_lang[i] and batch.src_lang[i] == batch.tgt_lang[i]
            if same_language or letter_count(src) < self.settings.min_letters or not mt.strip():
                continue
            overlap = trigram_jaccard(src, mt)
            scores[i] = float(ramp(overlap, self.settings.start, self.settings.full))
            if scores[i] > 0:
                details[i] = f"translation repeats the source ({overlap:.0%} character-trigram overlap)"
        return DetectorResult(self.name, scores, details)
