"""Stream one shard's rows from S3: only its row groups, only the needed columns,
`batch_rows` at a time. Never loads the whole object. Dictionary-encoded columns (pandas
`category`, parquet dictionary pages read as dictionaries) come out as their plain values and view
columns (string_view, binary_view) as large strings / binaries (tasks.io.parquet.plain_type), so every
step that expects a string column (text, ids, language codes, URIs) gets one, and the output schema
(made from the footer with plain_schema) has the same types."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.io.parquet import InputError, is_transient_io_error, plain_type, read_footer
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri
from tasks.io.shards import Shard


def iter_shard_batches(conn: S3Connection, shard: Shard, columns: list[str],
                       batch_rows: int = 1024) -> Iterator[pa.RecordBatch]:
    if not shard.slices:
        return
    path = S3Uri.parse(shard.object.uri).arrow_path
    metadata = read_footer(conn, shard.object)  # cached: no second footer read per shard
    with conn.arrow_fs.open_input_file(path) as handle:
        parquet = pq.ParquetFile(handle, metadata=metadata)
        for piece in shard.slices:
            yield from _read_slice(parquet, shard, piece.index, piece.start, piece.stop, columns, batch_rows)


def _read_slice(parquet: pq.ParquetFile, shard: Shard, index: int, start: int, stop: int,
                columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    offset = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[index], columns=columns):
            lo, hi = max(start - offset, 0), min(stop - offset, batch.num_rows)
            offset += batch.num_rows
            if hi > lo:
                yield repair_utf8(plain_columns(batch.slice(lo, hi - lo)))
            if offset >= stop:
                return
    except (pa.ArrowInvalid, OSError) as exc:
        if is_transient_io_error(exc):
            raise
        raise InputError(f"{shard.object.uri}: row group {index} is unreadable ({exc})") from exc


def plain_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Dictionary columns replaced by their values (string categories -> strings) and view columns by
    their large counterparts (tasks.io.parquet.plain_type); others unchanged."""
    if all(plain_type(f.type) == f.type for f in batch.schema):
        return batch
    fields, columns = [], []
    for f, column in zip(batch.schema, batch.columns):
        kind = plain_type(f.type)
        if kind != f.type:
            if pa.types.is_dictionary(f.type):
                column = column.dictionary_decode()
            column = column.cast(kind)
            f = f.with_type(kind)
        fields.append(f)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields, metadata=batch.schema.metadata))


INVALID_UTF8_KEY = b"sentinel.invalid_utf8"


def repair_utf8(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Parquet readers do not check that string cells are UTF-8. A cell that is not gets U+FFFD for
    its bad bytes, and its row (per column) is listed in the schema metadata, so the task can fail
    that row with a reason instead of crashing the shard on its first `to_pylist()`."""
    bad: dict[str, list[int]] = {}
    columns = []
    for field, column in zip(batch.schema, batch.columns):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                column, bad[field.name] = _decode_replacing(column, field.type)
        columns.append(column)
    if not bad:
        return batch
    metadata = {**(batch.schema.metadata or {}), INVALID_UTF8_KEY: json.dumps(bad).encode()}
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema.with_metadata(metadata))


def _decode_replacing(column: pa.Array, kind: pa.DataType) -> tuple[pa.Array, list[int]]:
    raw = column.view(pa.large_binary() if pa.types.is_large_string(kind) else pa.binary())
    values, rows = [], []
    for i, value in enumerate(raw.to_pylist()):
        try:
            values.append(None if value is None else value.decode("utf-8"))
        except UnicodeDecodeError:
            values.append(value.decode("utf-8", "replace"))
            rows.append(i)
    return pa.array(values, kind), rows


def invalid_utf8_rows(batch: pa.RecordBatch, column: str) -> set[int]:
    """Rows of `column` that repair_utf8 found not to be UTF-8."""
    listed = (batch.schema.metadata or {}).get(INVALID_UTF8_KEY)
    return set(json.loads(listed).get(column, [])) if listed else set()
