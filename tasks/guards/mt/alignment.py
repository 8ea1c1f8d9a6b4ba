"""Sentence alignment of texts translated elsewhere (check-mt on documents): source and translation
segmented, their sentences aligned by length and by meaning.

    per_text, vectors = segment_pairs(src, mt, src_lang, tgt_lang, settings)
    per_text[t]  # [(source unit, translation unit, source sentence indices), ...] of text t, in order
    vectors      # the sentences' embeddings by text, for the similarity detector not to encode them again
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.guards.mt.settings import MTGuardSettings
from tasks.guards.mt.similarity import embed
from tasks.text.segmentation import ALIGN_MOVES, UnitSimilarity, align_sentences, sentence_spans


def _unit_similarity(src_vectors: np.ndarray, mt_vectors: np.ndarray) -> UnitSimilarity:
    """align_sentences' similarity from the sentences' embeddings: a run of sentences is represented
    by the sum of its sentences' vectors (as good for alignment on the dev documents as embedding each
    joined run, at a third of the encoding). The runs the aligner can join are normalised up front."""
    widest = max(max(move) for move in ALIGN_MOVES)

    def runs(vectors: np.ndarray) -> list[np.ndarray]:
        sums = np.vstack([np.zeros((1, vectors.shape[1])), np.cumsum(vectors, axis=0)])
        out = [np.zeros((0, vectors.shape[1]))]  # width 0: never asked for
        for width in range(1, widest + 1):
            run = sums[width:] - sums[:-width] if width < len(sums) else np.zeros((0, vectors.shape[1]))
            norm = np.linalg.norm(run, axis=1, keepdims=True)
            out.append(run / np.where(norm > 0, norm, 1.0))
        return out

    src_runs, mt_runs = runs(src_vectors), runs(mt_vectors)

    def similarity(i: int, ii: int, j: int, jj: int) -> float:
        return float(src_runs[ii - i][i] @ mt_runs[jj - j][j])
    return similarity


def segment_pairs(src: Sequence[str], mt: Sequence[str], src_lang: Sequence[str], tgt_lang: Sequence[str],
                  settings: MTGuardSettings) -> tuple[list[list[tuple[str, str, list[int]]]], dict[str, np.ndarray]]:
    """Per text, its aligned (source unit, translation unit, source sentence indices): source and
    translation segmented, their sentences aligned by length and, where the similarity detector is
    on and a text has more than one sentence on a side, by meaning too (the cosine of the sentences'
    embeddings, all texts' sentences encoded in one batch). Also returns those embeddings by text."""
    sentences = [([s[a:b] for a, b in sentence_spans(s, sl)], [m[a:b] for a, b in sentence_spans(m, tl)])
                 for s, m, sl, tl in zip(src, mt, src_lang, tgt_lang, strict=True)]
    ambiguous = [max(len(a), len(b)) > 1 and min(len(a), len(b)) > 0 for a, b in sentences]
    vectors: dict[str, np.ndarray] = {}
    if settings.similarity.enabled and any(ambiguous):
        texts = list(dict.fromkeys(text for (a, b), many in zip(sentences, ambiguous) if many for text in a + b))
        vectors = dict(zip(texts, embed(texts, settings.similarity.threads, settings.similarity.triton_url)))
    out = []
    for (a, b), many, s, m in zip(sentences, ambiguous, src, mt):
        if not a:
            out.append([(s, m, [0])])
            continue
        similarity = _unit_similarity(np.array([vectors[x] for x in a]), np.array([vectors[x] for x in b])) \
            if many and vectors else None
        out.append([(" ".join(a[i] for i in s_ids), " ".join(b[j] for j in m_ids), s_ids)
                    for s_ids, m_ids in align_sentences(a, b, similarity)])
    return out, vectors
