"""Metrics and fitting for calibrating the guards (bench/calibrate_mt_guards.py, bench/document_guards.py,
bench/embed_parity.py). Metrics, folds and the logistic baseline are scikit-learn's; the noisy-OR fit is ours.

auroc(scores, labels)                      AUROC (roc_auc_score: ties count half); NaN when a class is absent
threshold_at_fpr(scores, labels, max_fpr)  lowest threshold whose false-positive rate <= max_fpr (roc_curve)
recall_at_fpr(scores, labels, max_fpr)     recall at that threshold
rates_at(scores, labels, threshold)        (recall, false-positive rate) flagging score >= threshold
stratified_folds(labels, k, seed)          fold index per row (StratifiedKFold, shuffled)
fit_noisy_or(scores, labels, prior, ...)   MAP noisy-OR weights + leak (prior-centred penalty)
fit_logistic / logistic_predict            L2 logistic regression baseline (LogisticRegression), [bias, w...]

NaN scores count as 0 everywhere (a detector that did not apply did not fire).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold


def _scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    return np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0), np.asarray(labels).astype(bool)


def auroc(scores, labels) -> float:
    """Probability that a random positive scores above a random negative, ties counted half."""
    s, y = _scores_labels(scores, labels)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, s))


def _roc(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """roc_curve at every distinct score (thresholds descending, the first one +inf)."""
    with warnings.catch_warnings():  # no positives: tpr is NaN, which only recall reads
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return roc_curve(y, s, drop_intermediate=False)


def _operating_index(fpr: np.ndarray, n_negatives: int, max_fpr: float) -> int:
    """Last roc_curve point flagging at most floor(max_fpr * negatives) negatives."""
    allowed = np.floor(max_fpr * n_negatives + 1e-9)
    return int(np.flatnonzero(np.rint(fpr * n_negatives) <= allowed)[-1])


def threshold_at_fpr(scores, labels, max_fpr: float) -> float:
    """Lowest threshold t such that the share of negatives with score >= t is <= max_fpr.

    Returned just above the highest score that would flag too many negatives, so a held-out score
    between that one and the next distinct training score is flagged too."""
    s, y = _scores_labels(scores, labels)
    if y.all():
        return float(s.min())
    fpr, _, thresholds = _roc(s, y)
    i = _operating_index(fpr, int((~y).sum()), max_fpr)
    if i == len(thresholds) - 1:  # every row may be flagged
        return float(s.min())
    return float(np.nextafter(thresholds[i + 1], np.inf))


def rates_at(scores, labels, threshold: float) -> tuple[float, float]:
    """(recall, false-positive rate) when flagging score >= threshold (any threshold, not only a
    training score: held-out folds are scored with the training folds' threshold)."""
    s, y = _scores_labels(scores, labels)
    flagged = s >= threshold
    recall = float(flagged[y].mean()) if y.any() else float("nan")
    fpr = float(flagged[~y].mean()) if (~y).any() else float("nan")
    return recall, fpr


def recall_at_fpr(scores, labels, max_fpr: float = 0.03) -> float:
    """Recall at threshold_at_fpr: the roc_curve point itself."""
    s, y = _scores_labels(scores, labels)
    if y.all():
        return 1.0
    if not y.any():
        return float("nan")
    fpr, tpr, _ = _roc(s, y)
    return float(tpr[_operating_index(fpr, int((~y).sum()), max_fpr)])


def stratified_folds(labels, k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) per row; each fold holds its share of positives and of negatives."""
    y = np.asarray(labels).astype(bool)
    folds = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros((len(y), 1)), y)):
        folds[test] = fold
    return folds


# ---- noisy-OR --------------------------------------------------------------------------------------
# Our own model (the guards' combination in tasks/guards/mt): P(y=1) = 1 - (1-leak) prod_j (1 - w_j s_j)
# with a penalty that pulls each weight towards its prior. No library fits this, so it stays here.

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


def fit_logistic(features, labels, l2: float = 1.0) -> np.ndarray:
    """L2 logistic regression (intercept not penalised), the bench's baseline; returns [bias, w...].

    Minimises sum(log-loss) + l2/2 ||w||^2, i.e. LogisticRegression with C = 1 / l2."""
    x = np.nan_to_num(np.asarray(features, dtype=np.float64))
    model = LogisticRegression(C=1.0 / l2 if l2 > 0 else np.inf, tol=1e-8, max_iter=1000)
    model.fit(x, np.asarray(labels).astype(int))
    return np.concatenate([model.intercept_, model.coef_[0]])


def logistic_predict(features, beta: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(features, dtype=np.float64))
    return _sigmoid(beta[0] + x @ beta[1:])
