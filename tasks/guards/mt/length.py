"""Length ratio of translation to source, in script-weighted letters.

Whitespace tokens do not work for Chinese, Japanese or Thai, and raw character counts make
every en->zh/ja translation look 3x too short. Each letter counts as `script_weights[script]`
Latin-letter equivalents (a Han character ~3, kana ~1.6, Hangul ~2.2), digits count 1,
spaces and punctuation 0; the ratio of those lengths is then comparable across scripts.
"""

from __future__ import annotations

import math

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import LengthSettings
from tasks.guards.scores import DetectorResult
from tasks.guards.text import script_of


def weighted_length(text: str, script_weights: dict[str, float]) -> float:
    total = 0.0
    for char in text:
        if char.isdigit():
            total += 1.0
        else:
            script = script_of(char)
            if script:
                total += script_weights.get(script, 1.0)
    return total


def length_ratio(src: str, mt: str, settings: LengthSettings) -> float:
    src_len = weighted_length(src, settings.script_weights)
    mt_len = weighted_length(mt, settings.script_weights)
    return (mt_len + settings.smoothing) / (src_len + settings.smoothing)


def ratio_score(ratio: float, low: float, high: float) -> float:
    """0 inside [low, high]; rises linearly in log space to 1 at half of low / twice high."""
    if ratio < low:
        return min(1.0, math.log(low / ratio) / math.log(2))
    if ratio > high:
        return min(1.0, math.log(ratio / high) / math.log(2))
    return 0.0


class LengthRatioDetector(Detector):
    """Translation much shorter (omission, detachment) or longer (oscillation) than the source."""

    name = "length"
    settings: LengthSettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details = [""] * n
        for i, (src, mt) in enumerate(zip(batch.src, batch.mt)):
            if not src.strip():
                continue
            ratio = length_ratio(src, mt, self.settings)
            scores[i] = ratio_score(ratio, self.settings.low, self.settings.high)
            if scores[i] > 0:
                side = "short" if ratio < 1 else "long"
                expected = f"{self.settings.low}-{self.settings.high}"
                details[i] = f"translation too {side}: length ratio {ratio:.2f} (expected {expected})"
        return DetectorResult(self.name, scores, details)
