"""Clustering speaker-embedding windows (scikit-learn agglomerative, cosine distance)."""
import numpy as np
import pytest

from tasks.diarization.clustering import cluster_windows


def voices(counts: list[int], spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random centre per voice; the true voice of each row."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(counts), 64))
    rows = np.concatenate([centres[v] + spread * rng.standard_normal((n, 64)) * np.linalg.norm(centres[v]) / 8
                           for v, n in enumerate(counts)])
    truth = np.repeat(np.arange(len(counts)), counts)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True), truth


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len({(x, y) for x, y in zip(a.tolist(), b.tolist())}) == len(set(a.tolist())) == len(set(b.tolist()))


def test_the_threshold_counts_the_voices():
    rows, truth = voices([12, 7, 9])
    found = cluster_windows(rows, threshold=0.4)
    assert found.auto_count == found.count == 3 and same_partition(found.labels, truth)


def test_a_given_count_cuts_the_tree_there_and_keeps_the_automatic_count():
    rows, truth = voices([10, 10, 10])
    found = cluster_windows(rows, threshold=0.4, num_speakers=2)
    assert found.count == 2 and found.auto_count == 3
    one_voice, _ = voices([20])
    forced = cluster_windows(one_voice, threshold=0.4, num_speakers=2)
    assert forced.count == 2 and forced.auto_count == 1  # forced, not found: the guard says so


def test_max_speakers_caps_the_automatic_count():
    rows, _ = voices([5, 5, 5, 5])
    assert cluster_windows(rows, threshold=0.4).count == 4
    assert cluster_windows(rows, threshold=0.4, max_speakers=2).count == 2


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_windows(n):
    found = cluster_windows(np.ones((n, 8)) / np.sqrt(8), threshold=0.4, num_speakers=3)
    assert found.labels.tolist() == [0] * n and found.auto_count == n


def test_an_unknown_linkage_is_refused():
    with pytest.raises(ValueError, match="linkage 'ward'"):
        cluster_windows(np.eye(3), threshold=0.4, linkage="ward")
