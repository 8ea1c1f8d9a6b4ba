"""Combine detector scores into one `hallucination_score`, a `flagged` decision and reasons.

Noisy-OR: hallucination_score = 1 - (1 - leak) * prod_i (1 - weight_i * score_i).
Each detector alone can raise the score up to its weight (a loop or a wrong-language output
flags on its own), and several weak signals add up. Missing scores (NaN: detector not
applicable to the row, e.g. no logprob) contribute nothing.
"""

from __future__ import annotations

import numpy as np

from tasks.guards.mt.settings import CombineSettings
from tasks.guards.scores import DetectorResult


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


def share_of_good_at_or_above(score, curve: list[tuple[float, float]]) -> np.ndarray:
    """S(score): the share of good sentences scoring >= score, read off `curve` ((score, share) knots,
    scores rising, shares falling), piecewise linear in log(share), extended past the last knot."""
    xs = np.array([k[0] for k in curve], dtype=np.float64)
    log_share = np.log(np.array([k[1] for k in curve], dtype=np.float64))
    s = np.asarray(score, dtype=np.float64)
    out = np.interp(s, xs, log_share)
    slope = (log_share[-1] - log_share[-2]) / max(xs[-1] - xs[-2], 1e-9)
    beyond = s > xs[-1]
    out[beyond] = log_share[-1] + slope * (s[beyond] - xs[-1])
    return np.exp(np.minimum(out, 0.0))


def score_at_share(share, curve: list[tuple[float, float]]) -> np.ndarray:
    """The inverse of share_of_good_at_or_above (clipped to [0, 1])."""
    xs = np.array([k[0] for k in curve], dtype=np.float64)
    log_share = np.log(np.array([k[1] for k in curve], dtype=np.float64))
    target = np.log(np.clip(np.asarray(share, dtype=np.float64), 1e-300, 1.0))
    out = np.interp(target, log_share[::-1], xs[::-1])
    slope = (log_share[-1] - log_share[-2]) / max(xs[-1] - xs[-2], 1e-9)
    beyond = target < log_share[-1]
    out[beyond] = xs[-1] + (target[beyond] - log_share[-1]) / (slope if slope < 0 else -1e9)
    return np.clip(out, 0.0, 1.0)


def worst_of_n(scores, n, curve: list[tuple[float, float]], max_n: float | None = None) -> np.ndarray:
    """The score of one sentence among `n` as a single-sentence score of equal rarity among good text:
    S⁻¹(1 − (1 − S(score))ⁿ). A good text of n sentences has n chances to reach a high worst-sentence
    score; mapped this way, one threshold keeps the false-positive rate per *row* at the calibrated
    per-sentence rate whatever the row's length. n = 1 leaves scores unchanged; so does an empty curve.
    `max_n` (resolvable_sentences) bounds n: a longer text is mapped as a text of max_n sentences."""
    s = np.asarray(scores, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n, dtype=np.float64), s.shape)
    if not curve or s.size == 0:
        return s.copy()
    if max_n is not None:
        n = np.minimum(n, max_n)
    share = share_of_good_at_or_above(s, curve)
    adjusted = score_at_share(-np.expm1(n * np.log1p(-np.minimum(share, 1 - 1e-12))), curve)
    return np.where(n <= 1, s, np.minimum(s, adjusted))


def resolvable_sentences(curve: list[tuple[float, float]], threshold: float) -> float:
    """The longest text (in sentences) whose per-row false-positive rate worst_of_n can hold at the
    threshold's rate S(threshold) with the curve's measurements: beyond it, a good sentence would have
    to be rarer than the curve's last knot, where only its extrapolation speaks, and under it even a
    sentence scoring 1 can never flag (a 100-sentence text with a certain hallucination would pass).
    Longer texts are mapped as texts of this many sentences: their false-positive rate is held per
    this many sentences (~30 with the shipped curve), and flagged_sentences says which ones."""
    if not curve:
        return float("inf")
    row_share = float(share_of_good_at_or_above(np.array([threshold]), curve)[0])
    last_share = curve[-1][1]
    if row_share >= 1 or last_share >= 1:
        return 1.0
    return max(1.0, float(np.log1p(-row_share) / np.log1p(-last_share)))


def binomial_tail(m: int, n: int, p: float) -> float:
    """P(X >= m) for X ~ Binomial(n, p)."""
    if m <= 0:
        return 1.0
    if m > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    j = np.arange(m, n + 1, dtype=np.float64)
    i = np.arange(1, n + 1, dtype=np.float64)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log((n - i + 1) / i))])[m:]
    log_terms = log_choose + j * np.log(p) + (n - j) * np.log1p(-p)
    top = float(log_terms.max())
    return float(min(1.0, np.exp(top) * np.exp(log_terms - top).sum()))


def several_flagged(scores, threshold: float, curve: list[tuple[float, float]], share: float) -> tuple[float, float]:
    """The count test: a text whose sentences include more that would be flagged alone (score >= threshold)
    than a good text of as many sentences has, at the rate S(threshold) each, is as bad as the tail
    probability p of that count says: (score, p), score = S⁻¹(p / share). `share` is the part of the per-row
    false-positive rate the test may add to the worst-sentence test's (worst_of_n); fewer than two such
    sentences, an empty curve or share 0: (0, 1). worst_of_n alone lets a long text in which many sentences
    are hallucinated pass when none is extreme enough for its length."""
    s = np.asarray(scores, dtype=np.float64)
    m = int(np.count_nonzero(s >= threshold))
    if m < 2 or not curve or share <= 0:
        return 0.0, 1.0
    per_sentence = float(share_of_good_at_or_above(np.array([threshold]), curve)[0])
    p = binomial_tail(m, s.size, per_sentence)
    return float(score_at_share(np.array([min(1.0, p / share)]), curve)[0]), p
