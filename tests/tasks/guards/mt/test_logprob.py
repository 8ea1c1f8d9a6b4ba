import math

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.logprob import LogprobDetector
from tasks.guards.mt.settings import LogprobSettings


def test_low_logprob_scores_high_and_missing_is_not_scored():
    batch = TranslationBatch.build(["a"] * 4, ["x", "x", "x", ""], ["de"] * 4, ["en"] * 4, [-0.2, -3.0, None, -5.0])
    scores = LogprobDetector(LogprobSettings()).score(batch).scores
    assert scores[0] < 0.05 and scores[1] > 0.95
    assert math.isnan(scores[2]) and math.isnan(scores[3])  # no logprob; empty translation
