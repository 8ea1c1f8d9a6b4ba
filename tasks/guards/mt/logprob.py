"""The translation model's own confidence: mean token log-probability (optional `logprob` column).

The translate model returns the beam score with length_penalty=1, i.e. the sum of token
log-probs divided by the number of generated tokens. Rows without a logprob are not scored,
nor are empty translations (the model returns 0 for them without decoding).
"""

from __future__ import annotations

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import LogprobSettings
from tasks.guards.scores import DetectorResult, logistic


class LogprobDetector(Detector):
    """Low mean token log-probability: the model was unsure of what it wrote."""

    name = "logprob"
    settings: LogprobSettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        values = batch.logprob
        usable = np.isfinite(values) & np.array([bool(mt.strip()) for mt in batch.mt], dtype=bool)
        scores = np.full(len(batch), np.nan)
        # low logprob -> high score: mirror around the midpoint
        scores[usable] = logistic(-values[usable], -self.settings.midpoint, self.settings.width)
        details = [f"mean token logprob {v:.2f}" if ok else "" for v, ok in zip(values, usable)]
        return DetectorResult(self.name, scores, details)
