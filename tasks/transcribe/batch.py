"""Transcribe one record batch: fetch audio held by URI, send the clips to Triton's `transcribe`
model, guard the transcripts (tasks/transcribe/guard.py). A bad row never fails the batch.
TranscribeStage (tasks/transcribe/stage.py) runs this per batch of a shard."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pyarrow as pa

from tasks.diarization.speakers import DiarizeSettings
from tasks.engine.guard_clock import GuardClock
from tasks.engine.row_status import GUARD_FIELDS, RowStatus
from tasks.inference.asr_client import AsrResult, TritonAsrClient
from tasks.inference.client import TritonCallSettings
from tasks.inference.speaker_client import TritonSpeakerClient
from tasks.io.s3 import S3Connection
from tasks.quality.shard_checks import ShardQualityChecks
from tasks.transcribe.audio_columns import AudioColumns
from tasks.transcribe.audio_fetch import AudioCell, load_audio_cells
from tasks.transcribe.guard import GuardVerdict, TranscriptGuard, drop_non_words, guard_transcripts_of_clips
from tasks.transcribe.speakers import diarize_results

ASR_FIELDS = [
    ("transcript", pa.string()), ("language", pa.string()), ("avg_logprob", pa.float32()),
    ("no_speech_prob", pa.float32()), ("compression_ratio", pa.float32()), ("duration_s", pa.float32()),
    ("speech_s", pa.float32()), ("segments", pa.string()),
    # every language of the segments, most seconds first (`language` is the first)
    ("languages", pa.list_(pa.string())),
    # channels="split": one transcript per channel, in channel order; null with "mix"
    ("channel_transcripts", pa.list_(pa.string())),
    # VAD speech regions (JSON [{start, end, language?}]) and the speech seconds no segment covers
    ("speech_regions", pa.string()), ("missing_speech_s", pa.float32()),
    # diarize: the clip's speakers (S1, S2, ...) in order of first speech; null when diarize is off
    ("speakers", pa.list_(pa.string())),
]
# output column -> AsrResult attribute, or a function of the result (missing_speech_s: the guard's verdict)
RESULT_ATTRS = {"transcript": "text", "language": "language", "avg_logprob": "avg_logprob",
                "no_speech_prob": "no_speech_prob", "compression_ratio": "compression_ratio",
                "duration_s": "duration_s", "speech_s": "speech_s", "segments": "segments",
                "languages": "languages", "speech_regions": "speech_regions", "speakers": "speakers",
                "channel_transcripts": lambda r: [c.text for c in r.channels] if r.channels else None}


@dataclass(frozen=True)
class TranscribeSettings:
    columns: AudioColumns
    language: str | None = None  # None: the server's default model (detects if multilingual)
    max_audio_bytes: int = 100 * 1024 * 1024
    read_batch_rows: int = 32  # audio rows are large: keep batches small
    batches_in_flight: int = 2
    triton: TritonCallSettings = field(
        default_factory=lambda: TritonCallSettings(model_name="transcribe", batch_size=4))
    guard: TranscriptGuard | None = None  # None: no ASR hallucination checks
    quality: ShardQualityChecks | None = None  # None: no data-quality suites
    subtitles: tuple[str, ...] = ()  # "vtt", "srt": one file per clip under <run_dir>/subtitles/ (subtitles.py)
    diarize: DiarizeSettings | None = None  # None: no speakers (tasks/transcribe/speakers.py)
    speaker: TritonCallSettings | None = None  # the `speaker` model's call settings when diarizing


# ---- one record batch ----------------------------------------------------------------------------

def row_prompts(record: pa.RecordBatch, column: str | None) -> list[str | None] | None:
    """Each row's own prompt (the `prompt_column`), None when no column is named."""
    if not column:
        return None
    return [str(v).strip() or None if v is not None else None for v in record.column(column).to_pylist()]


def row_status(cell: AudioCell, result: AsrResult | None) -> tuple[str, str | None]:
    if cell.empty:
        return RowStatus.EMPTY, None
    error = cell.error or (result.error if result else "not transcribed")
    return (RowStatus.FAILED, error) if error else (RowStatus.OK, None)


async def transcribe_cells(client: TritonAsrClient, cells: list[AudioCell], language: str | None,
                           prompts: list[str | None] | None = None) -> list[AsrResult | None]:
    todo = [i for i, cell in enumerate(cells) if cell.data is not None]
    results: list[AsrResult | None] = [None] * len(cells)
    sent = await client.transcribe([cells[i].data for i in todo], language,
                                   prompts=[prompts[i] for i in todo] if prompts else None)
    for i, result in zip(todo, sent):
        results[i] = result
    return results


async def transcribe_record_batch(client: TritonAsrClient, conn: S3Connection, record: pa.RecordBatch,
                                  settings: TranscribeSettings, clock: GuardClock,
                                  speakers: TritonSpeakerClient | None = None) -> pa.RecordBatch:
    """`speakers`: the `speaker` model's client, needed when settings.diarize is set."""
    columns = settings.columns
    cells = await asyncio.to_thread(load_audio_cells, conn, record.column(columns.source).to_pylist(),
                                    columns.audio_uri is not None, settings.max_audio_bytes)
    prompts = row_prompts(record, columns.prompt)
    # one rule for non-words: '...', '♪', '[Music]' is empty text, as a silent clip gets
    results = [drop_non_words(r) for r in await transcribe_cells(client, cells, settings.language, prompts)]
    statuses = [row_status(cell, result) for cell, result in zip(cells, results)]
    verdicts = [GuardVerdict() for _ in cells]
    if settings.guard is not None:
        transcribed = [i for i, (status, _) in enumerate(statuses) if status == RowStatus.OK]
        results, verdicts = await guard_transcripts_of_clips(client, [c.data for c in cells], results, transcribed,
                                                             settings.language, settings.guard, clock, prompts)
        statuses = [(RowStatus.FLAGGED, None) if v.flagged else st for v, st in zip(verdicts, statuses)]
    kept = [r if s in (RowStatus.OK, RowStatus.FLAGGED) else None for r, (s, _) in zip(results, statuses)]
    if settings.diarize is not None:
        if speakers is None:
            raise ValueError("diarize needs the `speaker` model's client")
        rows = [i for i, r in enumerate(kept) if r is not None]
        kept, unreliable = await diarize_results(speakers, [c.data for c in cells], kept, rows, settings.diarize)
        for i, reasons in unreliable.items():
            verdicts[i].reasons = [*(verdicts[i].reasons or []), *reasons]
    out = {"id": record.column(columns.id)}
    for name, kind in ASR_FIELDS:
        if name == "missing_speech_s":
            out[name] = pa.array([v.missing_s if r else None for r, v in zip(kept, verdicts)], kind)
            continue
        attr = RESULT_ATTRS[name]
        out[name] = pa.array([(attr(r) if callable(attr) else getattr(r, attr)) if r else None for r in kept], kind)
    out["model"] = pa.array([r.model if r else None for r in kept], pa.string())
    out["status"] = pa.array([s for s, _ in statuses], pa.string())
    out["error"] = pa.array([e for _, e in statuses], pa.string())
    out["hallucination_score"] = pa.array([v.score for v in verdicts], pa.float32())
    out["reasons"] = pa.array([v.reasons for v in verdicts], pa.list_(pa.string()))
    out["redecoded"] = pa.array([v.redecoded for v in verdicts], pa.bool_())
    for guard_field in GUARD_FIELDS:  # the MT guard's own columns (flagged_sentences): none for ASR
        out.setdefault(guard_field.name, pa.nulls(len(cells), guard_field.type))
    out.update({name: record.column(name) for name in columns.passthrough})
    return pa.RecordBatch.from_pydict(out)
