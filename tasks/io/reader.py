"""Stream one shard's rows from S3: only its row groups, only the needed columns,
`batch_rows` at a time. Never loads the whole object. Every batch holds exactly the columns asked
for, in that order, as the rest of the pipeline expects them:

- dictionary-encoded columns (pandas `category`, parquet dictionary pages) as their plain values,
  view columns (string_view, binary_view) as large strings / binaries, UUIDs (DuckDB, Spark) as their
  canonical strings (tasks.io.parquet.plain_type), so the output schema made from the footer with
  `input_schema` has the same types;
- a nested field asked for by its dotted path (`payload.text`) as a column of that name;
- the object's Hive partition values (tasks/io/partitions.py) as columns;
- text columns stored as bytes without the UTF-8 annotation as strings, and every string cell
  checked for UTF-8 (`repair_utf8`: a bad cell fails its row, not the shard)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.io.listing import ObjectRef
from tasks.io.object_cache import WHOLE_OBJECT_BYTES
from tasks.io.parquet import (
    InputError,
    is_binary_text_type,
    is_transient_io_error,
    is_uuid_type,
    nested_field,
    nested_splits,
    plain_type,
    read_footer,
    whole_object,
)
from tasks.io.partitions import partition_column
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri
from tasks.io.shards import Piece, Shard


def iter_shard_batches(conn: S3Connection, shard: Shard, columns: list[str], batch_rows: int = 1024,
                       text_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
    """The shard's rows, piece by piece (a packed shard reads several objects), `columns` in order;
    `text_columns` are read as strings even when stored as bytes. A packed shard's small pieces are
    gathered into batches of about `batch_rows` rows: the stage's per-batch cost (a Triton request,
    the guards) is paid per 1,024 rows, not per 50-row object."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for piece in shard.pieces:
        for batch in iter_piece_batches(conn, piece, columns, batch_rows, text_columns):
            if not shard.packed:
                yield repair_utf8(batch)
                continue
            pending.append(batch)
            held += batch.num_rows
            if held >= batch_rows:
                yield repair_utf8(gathered(pending))
                pending, held = [], 0
    if pending:
        yield repair_utf8(gathered(pending))


def gathered(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """Batches of several objects (equal column types: planning.schema_key) as one batch."""
    if len(batches) == 1:
        return batches[0]
    table = pa.concat_tables([pa.Table.from_batches([b.replace_schema_metadata(None)]) for b in batches],
                             promote_options="permissive")
    return table.combine_chunks().to_batches()[0]


def iter_piece_batches(conn: S3Connection, piece: Piece, columns: list[str], batch_rows: int = 1024,
                       text_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
    if not piece.slices:
        return
    obj = piece.object
    partition = {name: (value, kind) for name, value, kind in obj.partition}
    with open_parquet(conn, obj) as parquet:
        file_schema = parquet.schema_arrow
        stored = [c for c in columns if c in file_schema.names or nested_field(file_schema, c) is not None
                  or c not in partition]  # an unknown column is read, so parquet names it in its error
        for part in piece.slices:
            for batch in _read_slice(parquet, obj.uri, part.index, part.start, part.stop, stored, batch_rows):
                yield shaped(batch, columns, partition, text_columns)


@contextmanager
def open_parquet(conn: S3Connection, obj: ObjectRef) -> Iterator[pq.ParquetFile]:
    if 0 < obj.size <= WHOLE_OBJECT_BYTES:  # one GET: the footer is parsed from the same bytes
        data, metadata = whole_object(conn, obj)  # bad bytes: InputError there
        yield pq.ParquetFile(pa.BufferReader(data), metadata=metadata)
        return
    metadata = read_footer(conn, obj)  # cached: no second footer read per shard (bad bytes: InputError there)
    with conn.arrow_fs.open_input_file(S3Uri.parse(obj.uri).arrow_path) as handle:
        yield pq.ParquetFile(handle, metadata=metadata)


def _read_slice(parquet: pq.ParquetFile, uri: str, index: int, start: int, stop: int,
                columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    offset = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[index], columns=columns):
            lo, hi = max(start - offset, 0), min(stop - offset, batch.num_rows)
            offset += batch.num_rows
            if hi > lo:
                yield batch.slice(lo, hi - lo)
            if offset >= stop:
                return
    except (pa.ArrowInvalid, OSError) as exc:
        if is_transient_io_error(exc):
            raise
        raise InputError(f"{uri}: row group {index} is unreadable ({exc})") from exc


def nested_column(batch: pa.RecordBatch, path: str) -> pa.Array | None:
    """The values of a dotted path through struct columns (a null parent gives a null value)."""
    for head, inner in nested_splits(batch.schema.names, path):  # the rule planning checked the schema by
        try:
            return pc.struct_field(batch.column(head), inner)
        except (pa.ArrowInvalid, KeyError, TypeError):
            continue
    return None


def shaped(batch: pa.RecordBatch, columns: list[str], partition: dict[str, tuple[str | None, str]],
           text_columns: tuple[str, ...]) -> pa.RecordBatch:
    """`batch` as the pipeline reads it: exactly `columns`, in order, plain types (module docstring)."""
    fields, arrays = [], []
    for name in columns:
        if name in batch.schema.names:
            column = batch.column(name)
        elif (found := nested_column(batch, name)) is not None:
            column = found
        else:
            value, kind = partition[name]
            column = partition_column(value, kind, batch.num_rows)
        if name in text_columns and is_binary_text_type(column.type):
            column = plain_array(column)
            column = column.view(pa.large_string() if column.type == pa.large_binary() else pa.string())
        fields.append(pa.field(name, column.type))
        arrays.append(column)
    return plain_columns(pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields,
                                                                              metadata=batch.schema.metadata)))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuid_strings(column: pa.Array) -> pa.Array:
    """16-byte UUIDs as canonical lowercase 8-4-4-4-12 strings, vectorised (1M rows in well under a
    second; str(uuid.UUID) per row takes seconds); nulls stay null."""
    n = len(column)
    raw = np.frombuffer(column.buffers()[1], dtype=np.uint8)[column.offset * 16:(column.offset + n) * 16].reshape(n, 16)
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src, width in ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12)):
        out[:, dst:dst + width] = hexed[:, src:src + width]
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int32)
    validity = pc.is_valid(column).buffers()[1] if column.null_count else None
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()), validity,
                                       column.null_count)


def plain_array(column: pa.Array) -> pa.Array:
    """One column in its plain type (tasks.io.parquet.plain_type)."""
    kind = plain_type(column.type)
    if kind == column.type:
        return column
    if is_uuid_type(column.type):
        return uuid_strings(column.storage)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column.cast(kind)


def plain_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Dictionary columns replaced by their values (string categories -> strings), view columns by
    their large counterparts and UUIDs by their strings (tasks.io.parquet.plain_type); others unchanged."""
    if all(plain_type(f.type) == f.type for f in batch.schema):
        return batch
    columns = [plain_array(column) for column in batch.columns]
    fields = [f.with_type(column.type) for f, column in zip(batch.schema, columns)]
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
