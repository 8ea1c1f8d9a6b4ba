"""Translate one shard: stream its rows from S3, send non-empty texts to Triton in concurrent
client batches, guard the translations, write the shard's part and quarantine part
(tasks/shard_runner.py). Reading, inference, checks and writing overlap."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field

import pyarrow as pa
from prefect import task
from prefect.concurrency.sync import concurrency

from tasks.language import detect_languages
from tasks.shard_reader import invalid_utf8_rows, iter_shard_batches
from tasks.quality import OutputQualityError
from tasks.sharding import InputError, Shard
from tasks.shard_quality import ShardQualityChecks
from tasks.shard_runner import STATUS_EMPTY, STATUS_FAILED, STATUS_OK, GuardClock, ShardResult, run_shard
from tasks.storage import S3Connection
from tasks.translation_guard import GUARD_FIELDS, TranslationGuard, guard_translations, no_guard_columns
from tasks.triton_client import (
    TRITON_CONCURRENCY_LIMIT, TritonCallSettings, TritonRequestRejected, TritonTranslateClient,
)

QUALITY_READ_ROWS = 8192


@dataclass(frozen=True)
class TranslateSettings:
    text_column: str
    id_column: str
    target_lang: str
    source_lang: str = "auto"
    candidate_source_langs: tuple[str, ...] = ()
    passthrough_columns: tuple[str, ...] = ()
    language_column: str | None = None  # each row's source language; null there = source_lang
    max_text_chars: int = 20_000
    read_batch_rows: int = 1024
    batches_in_flight: int = 4
    triton: TritonCallSettings = field(default_factory=TritonCallSettings)
    guard: TranslationGuard | None = None  # None: no hallucination checks (e.g. the echo model)
    quality: ShardQualityChecks | None = None  # None: no data-quality suites


def output_schema(id_type: pa.DataType, passthrough: list[pa.Field]) -> pa.Schema:
    return pa.schema([
        pa.field("id", id_type), pa.field("source_text", pa.string()), pa.field("translation", pa.string()),
        pa.field("source_lang", pa.string()), pa.field("target_lang", pa.string()),
        pa.field("logprob", pa.float32()), pa.field("model", pa.string()),
        pa.field("status", pa.string()), pa.field("error", pa.string()), *GUARD_FIELDS, *passthrough,
    ])


class _RowBatch:
    """Mutable per-row outcome columns for one input batch."""

    def __init__(self, texts: list[str | None], settings: TranslateSettings):
        n = len(texts)
        self.texts = texts
        self.source_lang: list[str | None] = [None if settings.source_lang == "auto" else settings.source_lang] * n
        self.translation: list[str | None] = [None] * n
        self.logprob: list[float | None] = [None] * n
        self.model: list[str | None] = [None] * n
        self.status = [STATUS_OK] * n
        self.error: list[str | None] = [None] * n

    def fail(self, rows: list[int], reason: str) -> None:
        for i in rows:
            self.status[i], self.error[i] = STATUS_FAILED, reason


def classify_rows(batch: _RowBatch, settings: TranslateSettings, invalid_utf8: set[int] = frozenset()) -> list[int]:
    """Mark empty, undecodable and oversized rows; return the rows to translate."""
    todo = []
    for i, text in enumerate(batch.texts):
        if i in invalid_utf8:
            batch.fail([i], f"column {settings.text_column!r} is not valid UTF-8 (shown with U+FFFD for the bad bytes)")
        elif text is None or not text.strip():
            batch.status[i] = STATUS_EMPTY
        elif len(text) > settings.max_text_chars:
            batch.fail([i], f"text is {len(text)} characters, over max_text_chars={settings.max_text_chars}")
        else:
            todo.append(i)
    return todo


def group_by_source_language(batch: _RowBatch, rows: list[int], settings: TranslateSettings) -> dict[str, list[int]]:
    unknown = [i for i in rows if batch.source_lang[i] is None]  # source_lang "auto" and no language column value
    if unknown:
        detected = detect_languages([batch.texts[i] for i in unknown], settings.candidate_source_langs)
        for i, (lang, _prob) in zip(unknown, detected):
            batch.source_lang[i] = lang
    groups: dict[str, list[int]] = {}
    for i in rows:
        groups.setdefault(batch.source_lang[i], []).append(i)
    return groups


async def translate_record_batch(client: TritonTranslateClient, record: pa.RecordBatch,
                                 settings: TranslateSettings) -> pa.RecordBatch:
    batch = _RowBatch(record.column(settings.text_column).to_pylist(), settings)
    if settings.language_column:
        batch.source_lang = [lang or default for lang, default in
                             zip(record.column(settings.language_column).to_pylist(), batch.source_lang)]
    todo = classify_rows(batch, settings, invalid_utf8_rows(record, settings.text_column))
    groups = group_by_source_language(batch, todo, settings)

    async def run_group(lang: str, rows: list[int]) -> None:
        try:
            out = await client.translate([batch.texts[i] for i in rows], lang, settings.target_lang)
        except TritonRequestRejected as exc:
            batch.fail(rows, str(exc))
            return
        for i, text, lp, model in zip(rows, out.texts, out.logprobs, out.models):
            batch.translation[i], batch.logprob[i], batch.model[i] = text, lp, model

    await asyncio.gather(*(run_group(lang, rows) for lang, rows in groups.items()))
    columns = {
        "id": record.column(settings.id_column), "source_text": pa.array(batch.texts, pa.string()),
        "translation": pa.array(batch.translation, pa.string()),
        "source_lang": pa.array(batch.source_lang, pa.string()),
        "target_lang": pa.array([settings.target_lang] * record.num_rows, pa.string()),
        "logprob": pa.array(batch.logprob, pa.float32()), "model": pa.array(batch.model, pa.string()),
        "status": pa.array(batch.status, pa.string()), "error": pa.array(batch.error, pa.string()),
    }
    columns.update({name: record.column(name) for name in settings.passthrough_columns})
    return pa.RecordBatch.from_pydict(columns)


async def translate_and_guard(client: TritonTranslateClient, record: pa.RecordBatch, settings: TranslateSettings,
                              clock: GuardClock) -> pa.RecordBatch:
    translated = await translate_record_batch(client, record, settings)
    if settings.guard is None:
        return no_guard_columns(translated)
    return await guard_translations(client, translated, settings.guard, clock)


def translate_shard(conn: S3Connection, shard: Shard, settings: TranslateSettings, run_dir: str) -> ShardResult:
    """Plain function: translate `shard`, guard the translations, commit
    `<run_dir>/part-<shard_id>.parquet` and (if any row is failed or flagged)
    `<run_dir>/quarantine/part-<shard_id>.parquet`. A shard an earlier attempt committed is reused."""
    columns = [settings.id_column, settings.text_column, settings.language_column, *settings.passthrough_columns]
    columns = list(dict.fromkeys(c for c in columns if c))

    @asynccontextmanager
    async def processor(clock: GuardClock):
        async with TritonTranslateClient(settings.triton) as client:
            yield lambda record: translate_and_guard(client, record, settings, clock)

    return run_shard(conn, shard, run_dir, read_output_schema(conn, shard, settings),
                     lambda: iter_shard_batches(conn, shard, columns, settings.read_batch_rows),
                     processor, settings.batches_in_flight, settings.quality,
                     lambda wanted: iter_shard_batches(conn, shard, wanted, QUALITY_READ_ROWS))


def read_output_schema(conn: S3Connection, shard: Shard, settings: TranslateSettings) -> pa.Schema:
    from tasks.sharding import read_footer

    schema = read_footer(conn, shard.object).schema.to_arrow_schema()
    id_type = schema.field(settings.id_column).type
    return output_schema(id_type, [schema.field(name) for name in settings.passthrough_columns])


def shard_cache_key(_context, parameters: dict) -> str:
    """Cache on (run key = input ETags + config hash, shard = object ETag + row range)."""
    return f"translate-shard/{parameters['run_key']}/{parameters['shard'].shard_id}"


def retry_unless_bad_data(_task, _task_run, state) -> bool:
    """Retry a shard after an outage, not after input or output that failed its checks."""
    try:
        state.result()
    except (InputError, OutputQualityError):
        return False
    except Exception:  # noqa: BLE001 - anything else may be transient
        return True
    return True


@task(name="translate-shard", task_run_name="translate-shard-{shard.shard_id}", cache_key_fn=shard_cache_key,
      persist_result=True, retries=1, retry_delay_seconds=10, retry_condition_fn=retry_unless_bad_data)
def translate_shard_task(conn: S3Connection, shard: Shard, settings: TranslateSettings, run_dir: str,
                         run_key: str, slot_limit: str | None = None) -> ShardResult:
    """`slot_limit`: a global concurrency limit to hold a slot of while the shard runs (protects Triton)."""
    with concurrency(slot_limit, occupy=1) if slot_limit else nullcontext():
        return translate_shard(conn, shard, settings, run_dir)


def triton_slot_limit() -> str | None:
    """The Triton concurrency limit, if this Prefect server has one (`sentinel deploy-local` makes it)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(TRITON_CONCURRENCY_LIMIT)
        except ObjectNotFound:
            return None
    return TRITON_CONCURRENCY_LIMIT
