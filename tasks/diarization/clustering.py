"""Who is who: cluster a clip's speaker-embedding windows into speakers.

    found = cluster_windows(embeddings, settings)                  # automatic speaker count
    found = cluster_windows(embeddings, settings, num_speakers=2)  # a given count
    found.labels        # one cluster id per window (0, 1, ... in no particular order)
    found.auto_count    # the count the threshold finds, also when num_speakers was given

Agglomerative clustering (scikit-learn) of the unit-length GE2E embeddings with cosine distance:
`linkage` "average" merges two clusters while their mean pairwise distance is under `threshold`,
so the speaker count comes out of the data; with `num_speakers` the tree is cut at that many
clusters instead. The linkage and threshold were chosen on two- and three-speaker mixes of real
speech (bench/diarization_bench.py, docs/asr.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LINKAGES = ("average", "complete", "single")


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray  # int, one per window
    auto_count: int  # clusters the distance threshold gives (the count when none was given)

    @property
    def count(self) -> int:
        return int(len(set(self.labels.tolist())))


def cluster_windows(embeddings: np.ndarray, threshold: float, linkage: str = "average",
                    num_speakers: int | None = None, max_speakers: int | None = None) -> Clusters:
    """Cluster ids of `embeddings` (float [n, d], unit rows). `threshold`: cosine distance under which
    clusters merge (automatic count, capped at `max_speakers`); `num_speakers`: that many clusters
    (fewer when there are fewer windows)."""
    from sklearn.cluster import AgglomerativeClustering

    if linkage not in LINKAGES:
        raise ValueError(f"linkage {linkage!r} is not one of {', '.join(LINKAGES)}")
    n = int(embeddings.shape[0])
    if n == 0:
        return Clusters(np.zeros(0, dtype=int), 0)
    if n == 1:
        return Clusters(np.zeros(1, dtype=int), 1)
    auto = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                   linkage=linkage).fit(embeddings)
    auto_count = int(auto.n_clusters_)
    wanted = num_speakers if num_speakers else (min(auto_count, max_speakers) if max_speakers else None)
    if wanted is None or wanted == auto_count:
        return Clusters(np.asarray(auto.labels_, dtype=int), auto_count)
    cut = AgglomerativeClustering(n_clusters=min(wanted, n), metric="cosine", linkage=linkage).fit(embeddings)
    return Clusters(np.asarray(cut.labels_, dtype=int), auto_count)
