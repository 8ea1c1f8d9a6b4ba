"""Combine detector scores into one `hallucination_score`, a `flagged` decision and reasons.

Noisy-OR: hallucination_score = 1 - (1 - leak) * prod_i (1 - weight_i * score_i).
Each detector alone can raise the score up to its weight (a loop or a wrong-language output
flags on its own), and several weak signals add up. Missing scores (NaN: detector not
applicable to the row, e.g. no logprob) contribute nothing.
"""

from __future__ import annotations

import numpy as np

from tasks.checks.base import DetectorResult
from tasks.checks.settings import CombineSettings


def noisy_or(scores: np.ndarray, weights: np.ndarray, leak: float) -> np.ndarray:
    """scores (rows, detectors) in [0, 1] with NaN for not applicable; weights (detectors,)."""
    filled = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    return 1.0 - (1.0 - leak) * np.prod(1.0 - filled * np.asarray(weights, dtype=np.float64), axis=1)


def score_matrix(results: list[DetectorResult]) -> np.ndarray:
    return np.column_stack([r.scores for r in results]) if results else np.zeros((0, 0))


def row_reasons(results: list[DetectorResult], weights: np.ndarray, min_score: float) -> list[list[str]]:
    """'detector: detail' for each detector at or above `min_score`, strongest weighted evidence first."""
    if not results:
        return []
    scores = np.nan_to_num(score_matrix(results), nan=0.0)
    evidence = scores * weights
    out: list[list[str]] = []
    for row in range(scores.shape[0]):
        fired = [j for j in np.argsort(-evidence[row], kind="stable") if scores[row, j] >= min_score and weights[j] > 0]
        out.append([_reason(results[j], row, scores[row, j]) for j in fired])
    return out


def _reason(result: DetectorResult, row: int, score: float) -> str:
    detail = result.details[row]
    return f"{result.name} ({score:.2f}): {detail}" if detail else f"{result.name} ({score:.2f})"


def combine(
    results: list[DetectorResult], weights: dict[str, float], settings: CombineSettings, n_rows: int
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(hallucination_score, flagged, reasons) per row."""
    if not results:
        hallucination = np.full(n_rows, settings.leak)
        return hallucination, hallucination >= settings.threshold, [[] for _ in range(n_rows)]
    w = np.array([weights[r.name] for r in results], dtype=np.float64)
    hallucination = noisy_or(score_matrix(results), w, settings.leak)
    return hallucination, hallucination >= settings.threshold, row_reasons(results, w, settings.reason_min_score)
