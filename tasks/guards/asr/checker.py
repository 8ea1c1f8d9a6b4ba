"""Score ASR transcripts for hallucinations: a batch or columns, or the `transcribe` output table.

score_transcripts(batch_or_columns, settings) -> (hallucination_score, flagged, reasons)
score_asr_table(table, settings) -> table + hallucination_score, flagged, reasons (+ <detector>_score)
ASR_REDECODE_PARAMETERS: request parameters for re-decoding a flagged clip

Detectors: tasks/guards/asr/detectors.py; settings: tasks/guards/asr/settings.py; combination: the
MT guards' noisy-OR (tasks/guards/combine.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.guards.asr.batch import TranscriptBatch
from tasks.guards.asr.detectors import ASR_DETECTORS, TranscriptDetector
from tasks.guards.asr.settings import ASRGuardSettings
from tasks.guards.combine import combine
from tasks.guards.scores import DetectorResult

ASR_DETECTOR_NAMES = tuple(d.name for d in ASR_DETECTORS)
# transcribe output column -> TranscriptBatch field
TABLE_COLUMNS = {
    "transcript": "text",
    "avg_logprob": "avg_logprob",
    "no_speech_prob": "no_speech_prob",
    "compression_ratio": "compression_ratio",
    "duration_s": "duration_s",
    "speech_s": "speech_s",
    "language": "language",
}
OUTPUT_COLUMNS = ("hallucination_score", "flagged", "reasons")

# Re-decoding a flagged transcript: drop non-speech first (VAD), beam search, Whisper's temperature
# fallback with its own gates (a 30 s window that loops, is unsure, or is silence is re-decoded
# hotter or dropped), and no conditioning on the previous window so one hallucination does not seed
# the next. VAD keeps the fallback cheap: noise without VAD costs up to ~30 s per clip on CPU.
# Same shape as tasks.inference.asr_client.asr_parameters(vad_filter=True, beam_size=5, ...) (not imported:
# the checks need no gRPC); merge a `model` / `max_audio_s` into a copy where the first pass set them.
ASR_REDECODE_PARAMETERS: dict = {
    "vad_filter": True,
    "beam_size": 5,
    "temperature": 0.0,
    "temperature_increment": 0.2,
    "compression_ratio_threshold": 2.4,
    "log_prob_threshold": -1.0,
    "no_speech_threshold": 0.6,
    "condition_on_previous_text": False,
}


class MissingTranscriptColumnError(ValueError):
    pass


def build_asr_detectors(settings: ASRGuardSettings) -> list[TranscriptDetector]:
    sections = {cls: settings.detector_settings(cls.name) for cls in ASR_DETECTORS}
    return [cls(section) for cls, section in sections.items() if section.enabled]


def asr_detector_weights(settings: ASRGuardSettings) -> dict[str, float]:
    return {name: settings.detector_settings(name).weight for name in ASR_DETECTOR_NAMES}


def as_transcript_batch(batch_or_columns: TranscriptBatch | Mapping[str, Sequence]) -> TranscriptBatch:
    """A TranscriptBatch as is, or one built from columns named as TranscriptBatch's fields
    (`transcript` is accepted for `text`); missing numeric columns are unknown (NaN)."""
    if isinstance(batch_or_columns, TranscriptBatch):
        return batch_or_columns
    columns = dict(batch_or_columns)
    if "text" not in columns and "transcript" in columns:
        columns["text"] = columns.pop("transcript")
    if "text" not in columns:
        raise MissingTranscriptColumnError("need a 'text' (or 'transcript') column")
    unknown = set(columns) - set(TABLE_COLUMNS.values())
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(sorted(unknown))}; known: {', '.join(TABLE_COLUMNS.values())}")
    return TranscriptBatch.build(**columns)


def guard_transcripts(
    batch: TranscriptBatch, settings: ASRGuardSettings | None = None
) -> tuple[list[DetectorResult], np.ndarray, np.ndarray, list[list[str]]]:
    """(detector results, hallucination_score, flagged, reasons) for every row of the batch."""
    settings = settings or ASRGuardSettings()
    results = [detector.score(batch) for detector in build_asr_detectors(settings)]
    score, flagged, reasons = combine(results, asr_detector_weights(settings), settings.combine, len(batch))
    return results, score, flagged, reasons


def score_transcripts(
    batch_or_columns: TranscriptBatch | Mapping[str, Sequence], settings: ASRGuardSettings | None = None
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(hallucination_score float64 array, flagged bool array, reasons per row). Rows with an empty
    transcript get the base rate (`combine.leak`) and are never flagged."""
    _, score, flagged, reasons = guard_transcripts(as_transcript_batch(batch_or_columns), settings)
    return score, flagged, reasons


def detector_score_columns(results: list[DetectorResult], n: int) -> dict[str, np.ndarray]:
    """One score array per detector name (NaN where it does not apply or is disabled)."""
    by_name = {r.name: r.scores for r in results}
    return {name: by_name.get(name, np.full(n, np.nan)) for name in ASR_DETECTOR_NAMES}


def _scored_rows(table: pa.Table) -> np.ndarray:
    """Rows with a transcript and, where there is a `status` column, status 'ok'."""
    scored = table.column("transcript").is_valid()
    if "status" in table.column_names:
        scored = pc.and_(scored, pc.fill_null(pc.equal(table.column("status"), "ok"), False))
    return np.asarray(scored.to_numpy(zero_copy_only=False), dtype=bool)


def _column_values(table: pa.Table, name: str) -> list | None:
    if name not in table.column_names:
        return None
    target = pa.string() if name in ("transcript", "language") else pa.float64()
    return pc.cast(table.column(name), target).to_pylist()


def score_asr_table(
    table: pa.Table, settings: ASRGuardSettings | None = None, detector_columns: bool = False
) -> pa.Table:
    """The table (columns of the transcribe output: transcript, avg_logprob, no_speech_prob,
    compression_ratio, duration_s, speech_s, language, status; only `transcript` required) plus
    hallucination_score (float64), flagged (bool), reasons (list<string>) and, with detector_columns,
    `<detector>_score`. Rows not transcribed (status != 'ok', null transcript) get a null score,
    flagged False, no reasons. Existing output columns are replaced."""
    if "transcript" not in table.column_names:
        raise MissingTranscriptColumnError(
            f"missing column 'transcript' (found {', '.join(table.column_names) or 'none'})"
        )
    rows = _scored_rows(table)
    columns = {field: _column_values(table, name) for name, field in TABLE_COLUMNS.items()}
    picked = np.flatnonzero(rows)
    batch = TranscriptBatch.build(
        **{field: None if values is None else [values[i] for i in picked] for field, values in columns.items()}
    )
    results, score, flagged, reasons = guard_transcripts(batch, settings)
    n = table.num_rows
    full_score, full_flagged, full_reasons = np.full(n, np.nan), np.zeros(n, dtype=bool), [[] for _ in range(n)]
    full_score[picked], full_flagged[picked] = score, flagged
    for row, row_reasons in zip(picked, reasons):
        full_reasons[row] = row_reasons
    added = {
        "hallucination_score": pa.array(full_score, pa.float64(), mask=~rows),
        "flagged": pa.array(full_flagged, pa.bool_()),
        "reasons": pa.array(full_reasons, pa.list_(pa.string())),
    }
    if detector_columns:
        for name, values in detector_score_columns(results, len(batch)).items():
            full = np.full(n, np.nan)
            full[picked] = values
            added[f"{name}_score"] = pa.array(full, pa.float64(), mask=np.isnan(full))
    out = table.drop_columns([c for c in added if c in table.column_names])
    for name, column in added.items():
        out = out.append_column(name, column)
    return out
