"""Parquet objects as the reader sees them: the footer (read once per object and ETag), the types
columns have once read (a dictionary's values, a view type's large counterpart), which types count
as text and as ids, `InputError` for an object that is not what a run needs (it names the object,
and the column or row group), and which read errors are S3 trouble worth a retry."""
from __future__ import annotations

import functools
import struct
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.io.listing import ObjectRef
from tasks.io.object_cache import WHOLE_OBJECT_BYTES, planned_object, small_object
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri


class InputError(ValueError):
    """Bad input object: names the object (and column / row group) so a user can fix it."""


TEXT_TYPES = (pa.string(), pa.large_string(), pa.string_view())
# the types the shard reader hands on for view columns (arrow's string_view / binary_view, which parquet
# files written by pyarrow >= 17 or polars can restore): the same data in types every kernel supports
PLAIN_VIEW_TYPES = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}


# text stored as BYTE_ARRAY without the UTF-8 annotation (Impala, Hive and other older writers) reads as binary
BINARY_TEXT_TYPES = (pa.binary(), pa.large_binary(), pa.binary_view())


def is_uuid_type(kind: pa.DataType) -> bool:
    """The parquet UUID logical type (DuckDB, Spark, Trino ids): arrow's uuid extension type."""
    return getattr(kind, "extension_name", None) == "arrow.uuid"


def plain_type(kind: pa.DataType) -> pa.DataType:
    """The type a column of `kind` has once read (tasks.io.reader.plain_columns): a dictionary's
    value type, a view type's large counterpart, a UUID as its canonical string, anything else itself."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if is_uuid_type(kind):
        return pa.string()
    return PLAIN_VIEW_TYPES.get(kind, kind)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with every field typed as the shard reader hands it on (plain_type)."""
    return pa.schema([f.with_type(plain_type(f.type)) for f in schema], metadata=schema.metadata)


def nested_field(schema: pa.Schema, path: str) -> pa.Field | None:
    """The field `path` names: a top-level column, else a dotted path through struct columns
    (`payload.text`), returned under the dotted name; None when there is none."""
    if path in schema.names:
        return schema.field(path)
    for head, inner in nested_splits(schema.names, path):
        kind = schema.field(head).type
        for part in inner:
            if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
                break
            kind = kind.field(part).type
        else:
            return pa.field(path, kind)
    return None


def nested_splits(names: list[str], path: str) -> Iterator[tuple[str, list[str]]]:
    """(top-level column, fields inside it) for each way a dotted `path` names a column of `names`,
    the longest top-level name first (a top-level name may itself hold dots)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in names:
            yield head, parts[cut:]


def footer_schema(metadata: pq.FileMetaData) -> pa.Schema:
    """The footer's arrow schema as the reader reads the file: UUID columns as arrow's uuid type
    (`FileMetaData.schema.to_arrow_schema()` leaves them fixed_size_binary[16])."""
    schema = metadata.schema.to_arrow_schema()
    uuids = {metadata.schema.column(i).path for i in range(metadata.num_columns)
             if metadata.schema.column(i).logical_type.type == "UUID"}
    if not uuids:
        return schema
    return pa.schema([f.with_type(pa.uuid()) if f.name in uuids else f for f in schema], metadata=schema.metadata)


def input_schema(metadata: pq.FileMetaData, obj: ObjectRef, columns: list[str]) -> pa.Schema:
    """The columns of `obj` as the shard reader hands them on: the file's own (plain types), a
    nested field a stage reads by its dotted path, and the object's partition columns (the file's
    own column wins over a folder of the same name)."""
    from tasks.io.partitions import partition_fields

    schema = plain_schema(footer_schema(metadata))
    fields = list(schema)
    for name in columns:
        if name not in schema.names and (found := nested_field(schema, name)) is not None:
            fields.append(found.with_type(plain_type(found.type)))
    fields += [f for f in partition_fields(obj.partition) if f.name not in schema.names]
    return pa.schema(fields, metadata=schema.metadata)


def is_text_type(kind: pa.DataType) -> bool:
    """A string column, or a dictionary-encoded one (pandas `category`, parquet dictionary columns):
    tasks.io.reader decodes those to their strings when it reads them (plain_type)."""
    return plain_type(kind) in TEXT_TYPES


def is_id_type(kind: pa.DataType) -> bool:
    """Ids: strings or integers, plain or dictionary-encoded (or an all-null column)."""
    kind = plain_type(kind)
    return kind in TEXT_TYPES or pa.types.is_integer(kind) or pa.types.is_null(kind)


def is_binary_text_type(kind: pa.DataType) -> bool:
    """Bytes that a text column may hold without the UTF-8 annotation: read as UTF-8, with invalid
    bytes handled as in any string column (tasks.io.reader.repair_utf8)."""
    return plain_type(kind) in BINARY_TEXT_TYPES


def read_footer(conn: S3Connection, obj: ObjectRef) -> pq.FileMetaData:
    """The object's parquet footer. Cached per process by (connection, uri, ETag): planning, the
    output schema and every shard reader of one object share a single footer read."""
    return _read_footer_cached(conn, obj)


# the footer is read with one ranged GET of the object's tail (no HEAD, no second request unless the
# footer is longer): planning 100,000 small objects is 100,000 requests, not 300,000
FOOTER_TAIL_BYTES = 64 * 1024


def whole_object(conn: S3Connection, obj: ObjectRef) -> tuple[bytes, pq.FileMetaData]:
    """A small object's bytes for its shard (object_cache.small_object: one GET, kept while the shard
    reads it, when it fits) and its footer (parsed from those bytes, not read again); a missing object or
    bad bytes are its InputError."""
    data = _s3_errors(obj, lambda: small_object(conn, obj))
    return data, _parse_footer(obj, data)


def _parse_footer(obj: ObjectRef, data: bytes) -> pq.FileMetaData:
    """The footer at the end of `data` (the whole object or its tail); a garbled one (OSError "Couldn't
    deserialize thrift") is the object's InputError."""
    try:
        return pq.read_metadata(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{obj.uri}: not a readable parquet file ({exc})") from exc


# a footer of even a tiny object is ~26 KB in memory: 256 of them, not one per object of a 100,000-object
# run (small objects' bytes stay in object_cache, so a footer evicted here is parsed again, not fetched)
@functools.lru_cache(maxsize=256)
def _read_footer_cached(conn: S3Connection, obj: ObjectRef) -> pq.FileMetaData:
    try:
        # a small object is fetched whole and kept for its shard while the object cache has room
        if 0 < obj.size <= WHOLE_OBJECT_BYTES and (whole := _s3_errors(obj, lambda: planned_object(conn, obj))):
            return _parse_footer(obj, whole)
        tail = _tail(conn, obj, FOOTER_TAIL_BYTES)
        if len(tail) < 12 or tail[-4:] != b"PAR1":
            raise InputError(f"{obj.uri}: not a readable parquet file (no parquet footer: "
                             f"{obj.size} bytes that do not end in PAR1)")
        needed = struct.unpack("<I", tail[-8:-4])[0] + 8
        if needed > len(tail):
            tail = _tail(conn, obj, needed)
        return _parse_footer(obj, tail)
    except (pa.ArrowInvalid, OSError) as exc:  # fetching: arrow's S3 errors
        if is_transient_io_error(exc):
            raise  # S3 trouble: the task retries
        raise InputError(f"{obj.uri}: not a readable parquet file ({exc})") from exc


def _tail(conn: S3Connection, obj: ObjectRef, size: int) -> bytes:
    """The last `size` bytes of the object (all of it when smaller), in one GET."""
    parsed = S3Uri.parse(obj.uri)
    return _s3_errors(obj, lambda: conn.boto3_client().get_object(Bucket=parsed.bucket, Key=parsed.key,
                                                                  Range=f"bytes=-{size}")["Body"].read())


def _s3_errors(obj: ObjectRef, fetch) -> bytes:
    """`fetch()`, with a missing or empty object as the object's InputError; other S3 errors raise."""
    from botocore.exceptions import ClientError

    try:
        return fetch()
    except FileNotFoundError as exc:
        raise InputError(f"{obj.uri}: object disappeared after listing") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise InputError(f"{obj.uri}: object disappeared after listing") from exc
        if code == "InvalidRange":  # an empty object
            raise InputError(f"{obj.uri}: not a readable parquet file (empty object)") from exc
        raise  # S3 trouble (5xx, throttling): the task retries


def is_transient_io_error(exc: BaseException) -> bool:
    """A network / S3 error worth retrying, as opposed to bytes that are not what they claim to be: a
    connection or timeout error, arrow's S3 errors, and boto3's own (a missing object is mapped to the
    object's InputError before it gets here)."""
    return (isinstance(exc, (ConnectionError, TimeoutError)) or "AWS Error" in str(exc)
            or type(exc).__module__.startswith(("botocore", "urllib3")))
