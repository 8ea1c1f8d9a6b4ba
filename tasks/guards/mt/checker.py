"""Score machine translations for hallucinations: the scoring the pipeline's guard, check-mt and the
benchmarks share (no I/O; files and tables: check_file.py).

score_translations(src, mt, src_lang, tgt_lang, logprob, settings) -> list[GuardResult]   one per sentence
score_sentence_groups(units..., group_of_unit, n_groups, settings) -> list[TextVerdict]  one per text
score_documents(src, mt, src_lang, tgt_lang, logprob, settings) -> list[TextVerdict]  segment, align, score
    (sentences aligned by length and by their embeddings' cosine: tasks.guards.mt.alignment.segment_pairs)

Texts are guarded per sentence and judged per text: every sentence is scored, the text's
hallucination_score is its worst sentence mapped for the text's sentence count
(combine.worst_of_n, so the per-text false-positive rate stays at the calibrated rate; past
combine.resolvable_sentences, ~30, per that many sentences) and flagged_sentences lists the 0-based
source sentences that the guards flag (an empty translation or a loop always: GuardResult.certain)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tasks.guards.combine import combine, resolvable_sentences, several_flagged, worst_of_n
from tasks.guards.mt.alignment import segment_pairs
from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.copy_source import CopySourceDetector
from tasks.guards.mt.entities import EntityDetector
from tasks.guards.mt.language import LanguageDetector
from tasks.guards.mt.length import LengthRatioDetector
from tasks.guards.mt.logprob import LogprobDetector
from tasks.guards.mt.numbers import NumberDetector
from tasks.guards.mt.repetition import RepetitionDetector
from tasks.guards.mt.settings import MTGuardSettings
from tasks.guards.mt.similarity import SimilarityDetector
from tasks.guards.scores import DetectorResult
from tasks.guards.text import normalise_lang

DETECTORS: tuple[type[Detector], ...] = (
    SimilarityDetector,
    LanguageDetector,
    CopySourceDetector,
    RepetitionDetector,
    LengthRatioDetector,
    NumberDetector,
    EntityDetector,
    LogprobDetector,
)
DETECTOR_NAMES = tuple(d.name for d in DETECTORS)
COUNT_NOTE_NAMES = 10  # sentences named in the count test's reason (flagged_sentences lists them all)


@dataclass(frozen=True)
class GuardResult:
    hallucination_score: float
    flagged: bool
    reasons: list[str]
    detector_scores: dict[str, float]  # NaN where a detector does not apply (or is disabled)
    certain: bool = False  # flagged by a rule in a text of any length (an empty translation, a loop)
    notes: tuple[str, ...] = ()  # also in `reasons`: what could not be checked (DetectorResult.notes)


@dataclass(frozen=True)
class TextVerdict:
    """A text's verdict from its sentences' GuardResults (in order)."""

    hallucination_score: float
    flagged: bool
    reasons: list[str]
    flagged_sentences: list[int]  # 0-based indices of the source sentences the guards flag
    sentences: list[GuardResult]
    worst: int | None  # index into `sentences` of the sentence that sets the score (None: no sentence)


def build_detectors(settings: MTGuardSettings) -> list[Detector]:
    return [
        cls(settings.detector_settings(cls.name)) for cls in DETECTORS if settings.detector_settings(cls.name).enabled
    ]


def run_detectors(batch: TranslationBatch, settings: MTGuardSettings) -> list[DetectorResult]:
    return [detector.score(batch) for detector in build_detectors(settings)]


def detector_weights(settings: MTGuardSettings) -> dict[str, float]:
    return {name: settings.detector_settings(name).weight for name in DETECTOR_NAMES}


def guard_batch(batch: TranslationBatch, settings: MTGuardSettings):
    """(detector results, hallucination_score, flagged, reasons, certain, notes). An empty translation of a
    non-empty source is always flagged when `combine.flag_empty_translation`; so is a translation of an
    empty source (check-mt: no detector can judge it, and nothing supports it) and a row a detector is
    certain of (DetectorResult.certain: a degenerate loop). `certain` marks them all."""
    results = run_detectors(batch, settings)
    weights = detector_weights(settings)
    hallucination, flagged, reasons = combine(results, weights, settings.combine, len(batch))
    certain = np.zeros(len(batch), dtype=bool)
    for result in results:
        if result.certain is not None and weights[result.name] > 0:  # weight 0: the detector has no say
            certain |= result.certain
    for i, (src, mt) in enumerate(zip(batch.src, batch.mt)):
        if settings.combine.flag_empty_translation and src.strip() and not mt.strip():
            certain[i] = True
            reasons[i].insert(0, "empty translation")
        elif mt.strip() and not src.strip():  # check-mt: nothing in the source supports the translation
            certain[i] = True
            reasons[i].insert(0, "translation of an empty source")
    flagged |= certain
    notes = row_notes(results, len(batch))
    for i, row in enumerate(notes):
        reasons[i] += row
    return results, hallucination, flagged, reasons, certain, notes


def row_notes(results: list[DetectorResult], n: int) -> list[tuple[str, ...]]:
    """Per row, 'detector: note' for each detector's note (a check that could not be made)."""
    found: list[list[str]] = [[] for _ in range(n)]
    for result in results:
        for i, note in enumerate(result.notes or []):
            if note:
                found[i].append(f"{result.name}: {note}")
    return [tuple(row) for row in found]


def score_translations(
    src: Sequence[str],
    mt: Sequence[str],
    src_lang: Sequence[str],
    tgt_lang: Sequence[str],
    logprob: Sequence[float | None] | None = None,
    settings: MTGuardSettings | None = None,
    known_embeddings: Mapping[str, np.ndarray] | None = None,
) -> list[GuardResult]:
    """One GuardResult per row (all detectors run batched over the whole list); `known_embeddings`:
    vectors already computed for some of the texts (similarity.embed's), not encoded again."""
    settings = settings or MTGuardSettings()
    batch = TranslationBatch.build(src, mt, src_lang, tgt_lang, logprob, known_embeddings)
    results, hallucination, flagged, reasons, certain, notes = guard_batch(batch, settings)
    per_detector = _detector_columns(results, len(batch))
    return [
        GuardResult(
            float(hallucination[i]),
            bool(flagged[i]),
            reasons[i],
            {name: float(values[i]) for name, values in per_detector.items()},
            bool(certain[i]),
            notes[i],
        )
        for i in range(len(batch))
    ]


def judge_text(sentences: list[GuardResult], settings: MTGuardSettings,
               sentence_ids: list[list[int]] | None = None) -> TextVerdict:
    """One text's verdict from its sentences' results. `sentence_ids[u]`: the source sentence indices
    of unit u (default: unit u is sentence u). A single sentence keeps its own score and reasons."""
    combine_settings = settings.combine
    ids = sentence_ids or [[u] for u in range(len(sentences))]
    if not sentences:
        return TextVerdict(combine_settings.leak, False, [], [], [], None)
    raw = np.array([r.hallucination_score for r in sentences])
    curve, threshold = combine_settings.good_sentence_curve, combine_settings.threshold
    adjusted = worst_of_n(raw, len(sentences), curve, resolvable_sentences(curve, threshold))
    # a sentence flagged by a rule (an empty translation, a loop) stays flagged at any text length
    flagged_units = [u for u, r in enumerate(sentences) if adjusted[u] >= threshold or r.certain]
    worst = int(np.argmax(adjusted))
    score = float(adjusted[worst])
    count_score, count_p = several_flagged(raw, threshold, curve, combine_settings.several_flagged_share)
    count_note = []
    if count_score >= threshold:  # several sentences that would each be flagged alone: all of them are
        alone = np.flatnonzero(raw >= threshold).tolist()
        flagged_units = sorted({*flagged_units, *alone})
        score = max(score, count_score)
        named = ", ".join([_label(ids[u]) for u in alone[:COUNT_NOTE_NAMES]] + ["…"] * (len(alone) > COUNT_NOTE_NAMES))
        count_note = [f"sentences {named}: {len(alone)} of {len(sentences)} score at or above the threshold alone "
                      f"(a good text of {len(sentences)} sentences has that many with p = {count_p:.1e})"]
    if len(sentences) == 1:
        reasons = list(sentences[0].reasons)
    else:
        order = sorted(range(len(sentences)), key=lambda u: (u not in flagged_units, -adjusted[u]))
        reasons = count_note + [f"sentence {_label(ids[u])}: {why}" for u in order for why in sentences[u].reasons
                                if why not in sentences[u].notes]
        reasons += dict.fromkeys(note for r in sentences for note in r.notes)  # once per text, not per sentence
    return TextVerdict(score, bool(flagged_units), reasons,
                       sorted({i for u in flagged_units for i in ids[u]}), sentences, worst)


def _label(ids: list[int]) -> str:
    return str(ids[0]) if len(ids) == 1 else "+".join(map(str, ids))


def score_sentence_groups(
    src: Sequence[str], mt: Sequence[str], src_lang: Sequence[str], tgt_lang: Sequence[str],
    logprob: Sequence[float | None] | None, group_of_unit: Sequence[int], n_groups: int,
    settings: MTGuardSettings | None = None, sentence_ids: Sequence[list[int]] | None = None,
    known_embeddings: Mapping[str, np.ndarray] | None = None,
) -> list[TextVerdict]:
    """Score sentence units (all texts' sentences in one batched pass) and judge each text:
    unit k belongs to text group_of_unit[k] (units of a text in order); texts without units get
    the leak score. `sentence_ids[k]`: the source sentences of unit k (default: its index in the text)."""
    settings = settings or MTGuardSettings()
    results = score_translations(src, mt, src_lang, tgt_lang, logprob, settings, known_embeddings) if len(src) else []
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for k, g in enumerate(group_of_unit):
        members[g].append(k)
    return [judge_text([results[k] for k in ks], settings,
                       [list(sentence_ids[k]) for k in ks] if sentence_ids is not None else None)
            for ks in members]


def score_documents(
    src: Sequence[str | None], mt: Sequence[str | None], src_lang: Sequence[str], tgt_lang: Sequence[str],
    logprob: Sequence[float | None] | None = None, settings: MTGuardSettings | None = None,
) -> list[TextVerdict]:
    """Texts translated elsewhere (check-mt): segment source and translation, align their sentences,
    score every aligned unit, judge each text. A text's logprob applies to each of its units."""
    settings = settings or MTGuardSettings()
    units: list[tuple[str, str, list[int]]] = []
    group: list[int] = []
    per_text, vectors = segment_pairs([s or "" for s in src], [m or "" for m in mt],
                                      [normalise_lang(x) for x in src_lang], [normalise_lang(x) for x in tgt_lang],
                                      settings)
    for g, text_units in enumerate(per_text):
        units += text_units
        group += [g] * len(text_units)
    lp = None if logprob is None else [logprob[g] for g in group]
    return score_sentence_groups([u[0] for u in units], [u[1] for u in units], [src_lang[g] for g in group],
                                 [tgt_lang[g] for g in group], lp, group, len(src), settings, [u[2] for u in units],
                                 vectors)

def _detector_columns(results: list[DetectorResult], n: int) -> dict[str, np.ndarray]:
    by_name = {r.name: r.scores for r in results}
    return {name: by_name.get(name, np.full(n, np.nan)) for name in DETECTOR_NAMES}
