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
from tasks.shard_runner import STATUS_EMPTY, STATUS_FAILED, STATUS_OK, BatchFn, GuardClock, ShardResult, run_shard
from tasks.shard_quality import ShardQualityChecks
from tasks.translate_shard import QUALITY_READ_ROWS, TranslateSettings, retry_unless_bad_data, translate_record_batch
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
    quality: ShardQualityChecks | None = None  # None: no data-quality suites


def output_schema(id_type: pa.DataType, passthrough: list[pa.Field], with_translation: bool) -> pa.Schema:
    extra = TRANSLATION_FIELDS if with_translation else [("model", pa.string())]
    return pa.schema([pa.field("id", id_type), *(pa.field(n, t) for n, t in ASR_FIELDS + extra),
                      pa.field("status", pa.string()), pa.field("error", pa.string()), *passthrough])


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
                                  settings: TranscribeSettings) -> pa.RecordBatch:
    columns = settings.columns
    cells = await asyncio.to_thread(load_audio_cells, conn, record.column(columns.source).to_pylist(),
                                    columns.audio_uri is not None, settings.max_audio_bytes)
    results = await transcribe_cells(client, cells, settings.language)
    statuses = [row_status(cell, result) for cell, result in zip(cells, results)]
    ok = [r if s == STATUS_OK else None for r, (s, _) in zip(results, statuses)]
    out = {"id": record.column(columns.id)}
    for name, kind in ASR_FIELDS:
        out[name] = pa.array([getattr(r, RESULT_ATTRS[name]) if r else None for r in ok], kind)
    out["model"] = pa.array([r.model if r else None for r in ok], pa.string())
    out["status"] = pa.array([s for s, _ in statuses], pa.string())
    out["error"] = pa.array([e for _, e in statuses], pa.string())
    out.update({name: record.column(name) for name in columns.passthrough})
    return pa.RecordBatch.from_pydict(out)


async def speech_translate_record_batch(asr: TritonAsrClient, mt: TritonTranslateClient, conn: S3Connection,
                                        record: pa.RecordBatch, settings: TranscribeSettings) -> pa.RecordBatch:
    """Transcribe, then translate the transcripts, grouped by the language Whisper reported."""
    heard = await transcribe_record_batch(asr, conn, record, settings)
    target = settings.translate.target_lang
    rows = heard.to_pylist()
    translation = {"translation": [None] * len(rows), "translation_logprob": [None] * len(rows),
                   "translation_model": [None] * len(rows)}
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row["status"] == STATUS_OK and row["transcript"]:
            groups.setdefault(row["language"], []).append(i)
        elif row["status"] == STATUS_OK:  # nothing heard: nothing to translate
            row["status"] = STATUS_EMPTY
    for language, members in groups.items():
        if language == target:  # already in the target language
            for i in members:
                translation["translation"][i], translation["translation_model"][i] = rows[i]["transcript"], "identity"
            continue
        subset = pa.RecordBatch.from_pydict({"id": [rows[i]["id"] for i in members],
                                             "transcript": [rows[i]["transcript"] for i in members]})
        group_settings = replace(settings.translate, source_lang=language)
        done = (await translate_record_batch(mt, subset, group_settings)).to_pylist()
        for i, out in zip(members, done):
            translation["translation"][i], translation["translation_logprob"][i] = out["translation"], out["logprob"]
            translation["translation_model"][i] = out["model"]
            if out["status"] != STATUS_OK:
                rows[i]["status"], rows[i]["error"] = out["status"], out["error"] and f"translate: {out['error']}"
    columns = {name: heard.column(name) for name in ["id", *(n for n, _ in ASR_FIELDS)]}
    columns["asr_model"] = heard.column("model")
    columns["translation"] = pa.array(translation["translation"], pa.string())
    columns["target_lang"] = pa.array([target] * len(rows), pa.string())
    columns["translation_logprob"] = pa.array(translation["translation_logprob"], pa.float32())
    columns["translation_model"] = pa.array(translation["translation_model"], pa.string())
    columns["status"] = pa.array([r["status"] for r in rows], pa.string())
    columns["error"] = pa.array([r["error"] for r in rows], pa.string())
    columns.update({name: heard.column(name) for name in settings.columns.passthrough})
    return pa.RecordBatch.from_pydict(columns)


# ---- one shard -----------------------------------------------------------------------------------

@asynccontextmanager
async def batch_processor(conn: S3Connection, settings: TranscribeSettings, clock: GuardClock
                          ) -> AsyncIterator[BatchFn]:
    """The per-batch coroutine with its Triton clients open: transcribe, or transcribe + translate."""
    async with TritonAsrClient(settings.triton) as asr:
        if settings.translate is None:
            yield lambda record: transcribe_record_batch(asr, conn, record, settings)
            return
        async with TritonTranslateClient(settings.translate.triton) as mt:
            yield lambda record: speech_translate_record_batch(asr, mt, conn, record, settings)


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
