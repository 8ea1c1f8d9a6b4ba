import itertools

import numpy as np

from bench import calibration as cal


def _pairwise_auroc(s, y):
    pos, neg = s[y == 1], s[y == 0]
    wins = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    return float(np.mean(wins))


def test_auroc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    s = np.round(rng.random(60), 1)
    y = (rng.random(60) < 0.3).astype(int)
    assert np.isclose(cal.auroc(s, y), _pairwise_auroc(s, y))
    assert cal.auroc([0.1, 0.9], [0, 1]) == 1.0
    assert np.isnan(cal.auroc([0.1, 0.2], [0, 0]))


def test_threshold_respects_the_false_positive_budget():
    rng = np.random.default_rng(2)
    s = rng.random(500)
    y = (rng.random(500) < 0.2).astype(int)
    s[y == 1] += 0.5
    threshold = cal.threshold_at_fpr(s, y, 0.03)
    recall, fpr = cal.rates_at(s, y, threshold)
    assert fpr <= 0.03
    assert recall == cal.recall_at_fpr(s, y, 0.03) > 0.3


def test_noisy_or_fit_recovers_weights_and_keeps_priors_for_silent_detectors():
    rng = np.random.default_rng(3)
    n = 4000
    scores = np.column_stack([(rng.random(n) < 0.3).astype(float), (rng.random(n) < 0.3).astype(float), np.zeros(n)])
    p = 1 - (1 - 0.02) * (1 - 0.9 * scores[:, 0]) * (1 - 0.2 * scores[:, 1])
    y = (rng.random(n) < p).astype(float)
    fit = cal.fit_noisy_or(scores, y, prior_weights=[0.5, 0.5, 0.7], prior_strength=0.1)
    assert abs(fit.weights[0] - 0.9) < 0.05 and abs(fit.weights[1] - 0.2) < 0.07
    assert abs(fit.weights[2] - 0.7) < 1e-6  # never fires: stays at its prior
    assert abs(fit.leak - 0.02) < 0.02


def test_stratified_folds_spread_positives():
    y = np.array([1] * 10 + [0] * 40)
    folds = cal.stratified_folds(y, 5, seed=0)
    assert all((y[folds == k] == 1).sum() == 2 for k in range(5))


def test_logistic_baseline_separates_separable_data():
    x = np.array([[0.0], [0.1], [0.9], [1.0]])
    beta = cal.fit_logistic(x, [0, 0, 1, 1], l2=0.1)
    p = cal.logistic_predict(x, beta)
    assert p[0] < 0.5 < p[3]
