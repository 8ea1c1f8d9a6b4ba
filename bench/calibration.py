"""Metrics and fitting for calibrating the guards (numpy only; used by bench/calibrate_mt_guards.py).

auroc(scores, labels)                      Mann-Whitney AUROC, ties counted half
threshold_at_fpr(scores, labels, max_fpr)  lowest threshold whose false-positive rate <= max_fpr
recall_at_fpr(scores, labels, max_fpr)     recall at that threshold
fit_noisy_or(scores, labels, prior, ...)   MAP noisy-OR weights + leak (prior-centred penalty)
stratified_folds(labels, k, seed)          fold index per row, positives spread evenly
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(values)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def auroc(scores, labels) -> float:
    """Probability that a random positive scores above a random negative (NaN scores count as 0)."""
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def threshold_at_fpr(scores, labels, max_fpr: float) -> float:
    """Lowest threshold t such that the share of negatives with score >= t is <= max_fpr."""
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    y = np.asarray(labels).astype(bool)
    negatives = np.sort(s[~y])[::-1]
    allowed = int(np.floor(max_fpr * len(negatives) + 1e-9))  # negatives we may flag
    if allowed >= len(negatives):
        return float(s.min())
    # flag strictly above the (allowed+1)-th highest negative
    return float(np.nextafter(negatives[allowed], np.inf))


def rates_at(scores, labels, threshold: float) -> tuple[float, float]:
    """(recall, false-positive rate) when flagging score >= threshold."""
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    y = np.asarray(labels).astype(bool)
    flagged = s >= threshold
    recall = float(flagged[y].mean()) if y.any() else float("nan")
    fpr = float(flagged[~y].mean()) if (~y).any() else float("nan")
    return recall, fpr


def recall_at_fpr(scores, labels, max_fpr: float = 0.03) -> float:
    return rates_at(scores, labels, threshold_at_fpr(scores, labels, max_fpr))[0]


def stratified_folds(labels, k: int, seed: int) -> np.ndarray:
    y = np.asarray(labels).astype(bool)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    for cls in (True, False):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        folds[idx] = np.arange(len(idx)) % k
    return folds


def _logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class NoisyOrFit:
    weights: np.ndarray
    leak: float


def fit_noisy_or(
    scores,
    labels,
    prior_weights,
    prior_strength: float = 1.0,
    prior_leak: float = 0.02,
    steps: int = 800,
    learning_rate: float = 0.05,
) -> NoisyOrFit:
    """MAP fit of P(y=1) = 1 - (1-leak) prod_j (1 - w_j s_j) by Adam on logit(w), logit(leak).

    The penalty prior_strength/2 * ||logit(w) - logit(prior)||^2 keeps detectors the data says
    nothing about (never firing) at their prior weight instead of driving them to 0 or 1.
    """
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    y = np.asarray(labels, dtype=np.float64)
    centre = np.concatenate([_logit(prior_weights), _logit([prior_leak])])
    theta = centre.copy()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for step in range(1, steps + 1):
        grad = _noisy_or_gradient(theta, s, y) + prior_strength * (theta - centre)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        theta -= learning_rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return NoisyOrFit(weights=_sigmoid(theta[:-1]), leak=float(_sigmoid(theta[-1])))


def _noisy_or_gradient(theta: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    w, leak = _sigmoid(theta[:-1]), _sigmoid(theta[-1])
    factors = np.clip(1.0 - s * w, 1e-9, 1.0)
    q = (1.0 - leak) * np.prod(factors, axis=1)  # P(y=0)
    q = np.clip(q, 1e-9, 1 - 1e-9)
    d_nll_d_logq = y * q / (1.0 - q) - (1.0 - y)  # d(-log-likelihood) / d(log q)
    d_logq_d_w = -s / factors
    grad_w = (d_nll_d_logq[:, None] * d_logq_d_w).sum(axis=0) * w * (1 - w)
    grad_leak = (d_nll_d_logq * -leak).sum()
    return np.concatenate([grad_w, [grad_leak]])


def noisy_or_predict(scores, fit: NoisyOrFit) -> np.ndarray:
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    return 1.0 - (1.0 - fit.leak) * np.prod(1.0 - s * fit.weights, axis=1)


def fit_logistic(features, labels, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """Plain L2 logistic regression by Newton steps; returns [bias, w...]. Baseline for the bench."""
    x = np.column_stack([np.ones(len(features)), np.nan_to_num(np.asarray(features, dtype=np.float64))])
    y = np.asarray(labels, dtype=np.float64)
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = _sigmoid(x @ beta)
        grad = x.T @ (p - y) + penalty * beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        beta -= np.linalg.solve(hessian, grad)
    return beta


def logistic_predict(features, beta: np.ndarray) -> np.ndarray:
    x = np.column_stack([np.ones(len(features)), np.nan_to_num(np.asarray(features, dtype=np.float64))])
    return _sigmoid(x @ beta)
