"""Transcribe one shard (and, for speech-translate, translate its transcripts): stream the shard's
rows from S3, fetch audio held by URI, send clips to Triton's `transcribe` model, write one output
part. Reading, fetching, inference and writing overlap; a bad row never fails the shard."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import pyarrow as pa
from prefect import task

from tasks.audio import AudioCell, AudioColumns, load_audio_cells
from tasks.shard_reader import iter_shard_batches
from tasks.sharding import Shard, read_footer
from tasks.storage import S3Connection
from tasks.shard_runner import (
    STATUS_EMPTY, STATUS_FAILED, STATUS_FLAGGED, STATUS_OK, BatchFn, GuardClock, ShardResult, run_shard,
)
from tasks.shard_quality import ShardQualityChecks
from tasks.transcript_guard import GuardVerdict, TranscriptGuard, guard_transcripts_of_clips
from tasks.translate_shard import QUALITY_READ_ROWS, TranslateSettings, retry_unless_bad_data
from tasks.translation_guard import GUARD_FIELDS
from tasks.triton_asr_client import AsrResult, TritonAsrClient
from tasks.triton_client import TritonCallSettings, TritonTranslateClient

ASR_FIELDS = [
    ("transcript", pa.string()), ("language", pa.string()), ("avg_logprob", pa.float32()),
    ("no_speech_prob", pa.float32()), ("compression_ratio", pa.float32()), ("duration_s", pa.float32()),
    ("speech_s", pa.float32()), ("segments", pa.string()),
]
TRANSLATION_FIELDS = [
    ("asr_model", pa.string()), ("translation", pa.string()), ("target_lang", pa.string()),
    ("translation_logprob", pa.float32()), ("translation_model", pa.string()),
]
RESULT_ATTRS = {"transcript": "text", "language": "language", "avg_logprob": "avg_logprob",
                "no_speech_prob": "no_speech_prob", "compression_ratio": "compression_ratio",
                "duration_s": "duration_s", "speech_s": "speech_s", "segments": "segments"}


@dataclass(frozen=True)
class TranscribeSettings:
    columns: AudioColumns
    language: str | None = None  # None: the server's default model (detects if multilingual)
    max_audio_bytes: int = 100 * 1024 * 1024
    read_batch_rows: int = 32  # audio rows are large: keep batches small
    batches_in_flight: int = 2
    triton: TritonCallSettings = field(default_factory=lambda: TritonCallSettings(model_name="transcribe", batch_size=4))
    translate: TranslateSettings | None = None  # set for speech-translate
    guard: TranscriptGuard | None = None  # None: no ASR hallucination checks
    quality: ShardQualityChecks | None = None  # None: no data-quality suites


def output_schema(id_type: pa.DataType, passthrough: list[pa.Field], with_translation: bool) -> pa.Schema:
    extra = TRANSLATION_FIELDS if with_translation else [("model", pa.string())]
    translation_guard = [pa.field(f"translation_{f.name}", f.type) for f in GUARD_FIELDS] if with_translation else []
    return pa.schema([pa.field("id", id_type), *(pa.field(n, t) for n, t in ASR_FIELDS + extra),
                      pa.field("status", pa.string()), pa.field("error", pa.string()), *GUARD_FIELDS,
                      *translation_guard, *passthrough])


def read_output_schema(conn: S3Connection, shard: Shard, settings: TranscribeSettings) -> pa.Schema:
    schema = read_footer(conn, shard.object).schema.to_arrow_schema()
    passthrough = [schema.field(name) for name in settings.columns.passthrough]
    return output_schema(schema.field(settings.columns.id).type, passthrough, settings.translate is not None)


# ---- one record batch ----------------------------------------------------------------------------

def row_status(cell: AudioCell, result: AsrResult | None) -> tuple[str, str | None]:
    if cell.empty:
        return STATUS_EMPTY, None
    error = cell.error or (result.error if result else "not transcribed")
    return (STATUS_FAILED, error) if error else (STATUS_OK, None)


async def transcribe_cells(client: TritonAsrClient, cells: list[AudioCell], language: str | None) -> list[AsrResult | None]:
    todo = [i for i, cell in enumerate(cells) if cell.data is not None]
    results: list[AsrResult | None] = [None] * len(cells)
    for i, result in zip(todo, await client.transcribe([cells[i].data for i in todo], language)):
        results[i] = result
    return results


async def transcribe_record_batch(client: TritonAsrClient, conn: S3Connection, record: pa.RecordBatch,
                                  settings: TranscribeSettings, clock: GuardClock) -> pa.RecordBatch:
    columns = settings.columns
    cells = await asyncio.to_thread(load_audio_cells, conn, record.column(columns.source).to_pylist(),
                                    columns.audio_uri is not None, settings.max_audio_bytes)
    results = await transcribe_cells(client, cells, settings.language)
    statuses = [row_status(cell, result) for cell, result in zip(cells, results)]
    verdicts = [GuardVerdict() for _ in cells]
    if settings.guard is not None:
        heard = [i for i, (status, _) in enumerate(statuses) if status == STATUS_OK and results[i].text.strip()]
        results, verdicts = await guard_transcripts_of_clips(client, [c.data for c in cells], results, heard,
                                                             settings.language, settings.guard, clock)
        statuses = [(STATUS_FLAGGED, None) if v.flagged else st for v, st in zip(verdicts, statuses)]
    kept = [r if s in (STATUS_OK, STATUS_FLAGGED) else None for r, (s, _) in zip(results, statuses)]
    out = {"id": record.column(columns.id)}
    for name, kind in ASR_FIELDS:
        out[name] = pa.array([getattr(r, RESULT_ATTRS[name]) if r else None for r in kept], kind)
    out["model"] = pa.array([r.model if r else None for r in kept], pa.string())
    out["status"] = pa.array([s for s, _ in statuses], pa.string())
    out["error"] = pa.array([e for _, e in statuses], pa.string())
    out["hallucination_score"] = pa.array([v.score for v in verdicts], pa.float32())
    out["reasons"] = pa.array([v.reasons for v in verdicts], pa.list_(pa.string()))
    out["redecoded"] = pa.array([v.redecoded for v in verdicts], pa.bool_())
    out.update({name: record.column(name) for name in columns.passthrough})
    return pa.RecordBatch.from_pydict(out)


# ---- one shard -----------------------------------------------------------------------------------

@asynccontextmanager
async def batch_processor(conn: S3Connection, settings: TranscribeSettings, clock: GuardClock
                          ) -> AsyncIterator[BatchFn]:
    """The per-batch coroutine with its Triton clients open: transcribe, or transcribe + translate."""
    async with TritonAsrClient(settings.triton) as asr:
        if settings.translate is None:
            yield lambda record: transcribe_record_batch(asr, conn, record, settings, clock)
            return
        from tasks.speech_translation import speech_translate_record_batch

        async with TritonTranslateClient(settings.translate.triton) as mt:
            yield lambda record: speech_translate_record_batch(asr, mt, conn, record, settings, clock)


def transcribe_shard(conn: S3Connection, shard: Shard, settings: TranscribeSettings, run_dir: str) -> ShardResult:
    """Plain function: process `shard` and commit `<run_dir>/part-<shard_id>.parquet` (and its
    quarantine part for failed rows); a shard an earlier attempt committed is reused."""
    return run_shard(conn, shard, run_dir, read_output_schema(conn, shard, settings),
                     lambda: iter_shard_batches(conn, shard, settings.columns.read, settings.read_batch_rows),
                     lambda clock: batch_processor(conn, settings, clock), settings.batches_in_flight,
                     settings.quality, lambda wanted: iter_shard_batches(conn, shard, wanted, QUALITY_READ_ROWS))


def shard_cache_key(_context, parameters: dict) -> str:
    """Cache on (run key = input ETags + config hash, shard = object ETag + row range)."""
    return f"{parameters['flow']}-shard/{parameters['run_key']}/{parameters['shard'].shard_id}"


@task(name="transcribe-shard", task_run_name="{flow}-shard-{shard.shard_id}", cache_key_fn=shard_cache_key,
      persist_result=True, retries=1, retry_delay_seconds=10, retry_condition_fn=retry_unless_bad_data)
def transcribe_shard_task(conn: S3Connection, shard: Shard, settings: TranscribeSettings, run_dir: str,
                          run_key: str, flow: str = "transcribe") -> ShardResult:
    return transcribe_shard(conn, shard, settings, run_dir)
