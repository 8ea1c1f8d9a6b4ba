import numpy as np

from tasks.guards.combine import combine, noisy_or
from tasks.guards.mt.settings import CombineSettings
from tasks.guards.scores import DetectorResult


def test_noisy_or_math_and_nan_is_ignored():
    scores = np.array([[0.0, 0.0], [1.0, np.nan], [0.5, 0.5]])
    out = noisy_or(scores, np.array([0.8, 0.6]), leak=0.0)
    assert np.allclose(out, [0.0, 0.8, 1 - 0.6 * 0.7])


def test_combine_flags_and_orders_reasons_by_evidence():
    results = [
        DetectorResult("a", np.array([0.9, 0.1]), ["a fired", ""]),
        DetectorResult("b", np.array([1.0, 0.0]), ["b fired", ""]),
        DetectorResult("c", np.array([1.0, 0.0]), ["c fired", ""]),
    ]
    score, flagged, reasons = combine(
        results, {"a": 0.9, "b": 0.5, "c": 0.0}, CombineSettings(leak=0.0, threshold=0.5, reason_min_score=0.5), 2
    )
    assert flagged.tolist() == [True, False]
    assert [r.split(" ")[0] for r in reasons[0]] == ["a", "b"]  # c has weight 0: no reason
    assert reasons[1] == []
    assert score[1] == np.float64(1 - (1 - 0.09))


def test_no_enabled_detector_gives_the_leak():
    score, flagged, reasons = combine([], {}, CombineSettings(leak=0.01), 3)
    assert score.tolist() == [0.01] * 3 and not flagged.any() and reasons == [[], [], []]


def test_worst_of_n_keeps_one_sentence_and_maps_longer_texts_to_equal_rarity():
    import numpy as np

    from tasks.guards.combine import share_of_good_at_or_above, worst_of_n
    from tasks.guards.mt.settings import MTGuardSettings

    curve = MTGuardSettings().combine.good_sentence_curve
    scores = np.array([0.01, 0.2, 0.349, 0.6, 0.9, 0.99])
    assert np.allclose(worst_of_n(scores, 1, curve), scores)
    five = worst_of_n(scores, 5, curve)
    assert np.all(five <= scores + 1e-12) and np.all(np.diff(five) >= 0)  # lower, same order
    # equal rarity: P(worst of 5 good >= s) == P(one good >= mapped s)
    share = share_of_good_at_or_above(scores[2:5], curve)
    assert np.allclose(1 - (1 - share) ** 5, share_of_good_at_or_above(five[2:5], curve), rtol=1e-6)
    assert np.allclose(worst_of_n(scores, 5, []), scores)  # no curve: the plain worst sentence


def test_long_texts_are_mapped_only_as_far_as_the_curve_measures():
    import numpy as np

    from tasks.guards.combine import resolvable_sentences, share_of_good_at_or_above, worst_of_n
    from tasks.guards.mt.settings import MTGuardSettings

    combine_settings = MTGuardSettings().combine
    curve, threshold = combine_settings.good_sentence_curve, combine_settings.threshold
    most = resolvable_sentences(curve, threshold)
    # at that length the curve's last knot maps onto the threshold: the row's rate S(threshold) is held
    row_share = share_of_good_at_or_above(np.array([threshold]), curve)[0]
    assert np.isclose(1 - (1 - curve[-1][1]) ** most, row_share)
    assert 20 < most < 40
    certain = np.array([1.0])
    assert worst_of_n(certain, 300, curve)[0] < threshold  # unbounded: a certain hallucination never flags
    assert worst_of_n(certain, 300, curve, most)[0] >= threshold
    assert np.array_equal(worst_of_n(certain, 300, curve, most), worst_of_n(certain, most, curve))
    assert resolvable_sentences([], threshold) == float("inf")


def test_binomial_tail_and_the_count_test():
    from math import comb

    import numpy as np

    from tasks.guards.combine import binomial_tail, several_flagged, share_of_good_at_or_above
    from tasks.guards.mt.settings import MTGuardSettings

    for n, m, p in ((5, 2, 0.03), (40, 10, 0.03), (12, 0, 0.5), (7, 7, 0.2), (3, 4, 0.5)):
        exact = sum(comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(m, n + 1))
        assert np.isclose(binomial_tail(m, n, p), exact, rtol=1e-9, atol=1e-300)
    assert binomial_tail(3000, 5000, 0.03) < 1e-300 * 1e10  # long texts: no overflow
    combine_settings = MTGuardSettings().combine
    curve, threshold = combine_settings.good_sentence_curve, combine_settings.threshold
    at = share_of_good_at_or_above(np.array([threshold]), curve)[0]
    assert several_flagged([0.9], threshold, curve, 0.1) == (0.0, 1.0)  # one sentence: the worst-sentence test's
    assert several_flagged([0.9] * 5, threshold, curve, 0.0) == (0.0, 1.0)  # share 0: off
    score, p = several_flagged([0.9, 0.9, 0.9, 0.0, 0.0], threshold, curve, 0.1)
    assert np.isclose(p, binomial_tail(3, 5, at)) and score >= threshold
    score, _ = several_flagged([0.9, 0.9] + [0.0] * 38, threshold, curve, 0.1)  # 2 of 40: what good texts have
    assert score < threshold
