"""Translate one shard: stream its rows from S3, send non-empty texts to Triton in
concurrent client batches, write one output part. Reading, inference and writing overlap."""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import pyarrow as pa
from prefect import task
from prefect.concurrency.sync import concurrency

from tasks.language import detect_languages
from tasks.output_parts import PartWriter, committed_part_metadata
from tasks.s3_uri import S3Uri
from tasks.shard_reader import iter_shard_batches
from tasks.sharding import Shard
from tasks.storage import S3Connection
from tasks.triton_client import (
    TRITON_CONCURRENCY_LIMIT, TritonCallSettings, TritonRequestRejected, TritonTranslateClient,
)

STATUS_OK, STATUS_EMPTY, STATUS_FAILED = "ok", "skipped_empty", "failed"


@dataclass(frozen=True)
class TranslateSettings:
    text_column: str
    id_column: str
    target_lang: str
    source_lang: str = "auto"
    candidate_source_langs: tuple[str, ...] = ()
    passthrough_columns: tuple[str, ...] = ()
    max_text_chars: int = 20_000
    read_batch_rows: int = 1024
    batches_in_flight: int = 4
    triton: TritonCallSettings = field(default_factory=TritonCallSettings)


@dataclass(frozen=True)
class ShardResult:
    shard_id: str
    object_uri: str
    row_start: int
    row_stop: int
    output_uri: str
    rows: int
    status_counts: dict[str, int]
    seconds: float
    reused: bool = False  # True when an earlier attempt had already committed this part


def output_schema(id_type: pa.DataType, passthrough: list[pa.Field]) -> pa.Schema:
    return pa.schema([
        pa.field("id", id_type), pa.field("source_text", pa.string()), pa.field("translation", pa.string()),
        pa.field("source_lang", pa.string()), pa.field("target_lang", pa.string()),
        pa.field("logprob", pa.float32()), pa.field("model", pa.string()),
        pa.field("status", pa.string()), pa.field("error", pa.string()), *passthrough,
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


def classify_rows(batch: _RowBatch, settings: TranslateSettings) -> list[int]:
    """Mark empty and oversized rows; return the rows to translate."""
    todo = []
    for i, text in enumerate(batch.texts):
        if text is None or not text.strip():
            batch.status[i] = STATUS_EMPTY
        elif len(text) > settings.max_text_chars:
            batch.fail([i], f"text is {len(text)} characters, over max_text_chars={settings.max_text_chars}")
        else:
            todo.append(i)
    return todo


def group_by_source_language(batch: _RowBatch, rows: list[int], settings: TranslateSettings) -> dict[str, list[int]]:
    if settings.source_lang == "auto" and rows:
        detected = detect_languages([batch.texts[i] for i in rows], settings.candidate_source_langs)
        for i, (lang, _prob) in zip(rows, detected):
            batch.source_lang[i] = lang
    groups: dict[str, list[int]] = {}
    for i in rows:
        groups.setdefault(batch.source_lang[i], []).append(i)
    return groups


async def translate_record_batch(client: TritonTranslateClient, record: pa.RecordBatch,
                                 settings: TranslateSettings) -> pa.RecordBatch:
    batch = _RowBatch(record.column(settings.text_column).to_pylist(), settings)
    groups = group_by_source_language(batch, classify_rows(batch, settings), settings)

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


async def _translate_stream(conn: S3Connection, shard: Shard, settings: TranslateSettings,
                            writer: PartWriter, counts: Counter) -> None:
    columns = list(dict.fromkeys([settings.id_column, settings.text_column, *settings.passthrough_columns]))
    batches = iter_shard_batches(conn, shard, columns, settings.read_batch_rows)
    inflight: deque[asyncio.Task] = deque()

    async def drain_one() -> None:
        out = await inflight.popleft()
        counts.update(out.column("status").to_pylist())
        writer.write(out.cast(writer.schema))

    async with TritonTranslateClient(settings.triton) as client:
        try:
            while (record := await asyncio.to_thread(next, batches, None)) is not None:
                inflight.append(asyncio.create_task(translate_record_batch(client, record, settings)))
                while len(inflight) > settings.batches_in_flight:
                    await drain_one()
            while inflight:
                await drain_one()
        finally:
            for pending in inflight:
                pending.cancel()


def translate_shard(conn: S3Connection, shard: Shard, settings: TranslateSettings, run_dir: str) -> ShardResult:
    """Plain function: translate `shard` and commit `<run_dir>/part-<shard_id>.parquet`.

    A part already committed by an earlier attempt (same run key, same shard) is reused, not
    recomputed: the part and its metadata are the commit record."""
    started = time.perf_counter()
    target = S3Uri.parse(run_dir).join(f"part-{shard.shard_id}.parquet")
    done = committed_part_metadata(conn, target)
    if done and done.get("sentinel-shard") == shard.shard_id and "sentinel-status-counts" in done:
        counts = Counter(json.loads(done["sentinel-status-counts"]))
        return _result(shard, str(target), counts, started, reused=True)
    schema = read_output_schema(conn, shard, settings)
    counts = Counter()
    with PartWriter(conn, target, schema, {"sentinel-shard": shard.shard_id, "sentinel-etag": shard.object.etag}) as writer:
        asyncio.run(_translate_stream(conn, shard, settings, writer, counts))
        writer.metadata["sentinel-status-counts"] = json.dumps(dict(counts), sort_keys=True)
        output_uri = writer.commit()
    return _result(shard, output_uri, counts, started)


def _result(shard: Shard, output_uri: str, counts: Counter, started: float, reused: bool = False) -> ShardResult:
    return ShardResult(
        shard_id=shard.shard_id, object_uri=shard.object.uri, row_start=shard.row_start, row_stop=shard.row_stop,
        output_uri=output_uri, rows=sum(counts.values()), status_counts=dict(counts),
        seconds=round(time.perf_counter() - started, 3), reused=reused,
    )


def read_output_schema(conn: S3Connection, shard: Shard, settings: TranslateSettings) -> pa.Schema:
    from tasks.sharding import read_footer

    schema = read_footer(conn, shard.object).schema.to_arrow_schema()
    id_type = schema.field(settings.id_column).type
    return output_schema(id_type, [schema.field(name) for name in settings.passthrough_columns])


def shard_cache_key(_context, parameters: dict) -> str:
    """Cache on (run key = input ETags + config hash, shard = object ETag + row range)."""
    return f"translate-shard/{parameters['run_key']}/{parameters['shard'].shard_id}"


@task(name="translate-shard", task_run_name="translate-shard-{shard.shard_id}", cache_key_fn=shard_cache_key,
      persist_result=True, retries=1, retry_delay_seconds=10)
def translate_shard_task(conn: S3Connection, shard: Shard, settings: TranslateSettings, run_dir: str,
                         run_key: str) -> ShardResult:
    with concurrency(TRITON_CONCURRENCY_LIMIT, occupy=1, strict=False):
        return translate_shard(conn, shard, settings, run_dir)
