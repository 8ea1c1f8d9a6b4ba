"""Plan shards from parquet metadata: whole row groups grouped to ~`shard_rows` rows,
large row groups split into row ranges. Validates the schema before any inference."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from tasks.listing import ObjectRef
from tasks.s3_uri import S3Uri
from tasks.storage import S3Connection

# The one default shard size (rows) of the CLI, the flows and the deployments.
DEFAULT_SHARD_ROWS = 20_000


class InputError(ValueError):
    """Bad input object: names the object (and column / row group) so a user can fix it."""


@dataclass(frozen=True)
class RowGroupSlice:
    """Rows [start, stop) of row group `index` (offsets inside that row group)."""

    index: int
    start: int
    stop: int


@dataclass(frozen=True)
class Shard:
    object: ObjectRef
    row_start: int  # first row (object-global index)
    row_stop: int  # one past the last row
    slices: tuple[RowGroupSlice, ...] = field(default=())

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def shard_id(self) -> str:
        """Deterministic: same object bytes and row range -> same id, whatever else is in the run."""
        digest = hashlib.sha256(f"{self.object.uri}\0{self.object.etag}".encode()).hexdigest()[:12]
        return f"{digest}-{self.row_start:010d}-{self.row_stop:010d}"


@dataclass(frozen=True)
class ObjectPlan:
    object: ObjectRef
    shards: tuple[Shard, ...] = ()
    error: str | None = None
    rows: int = 0


TEXT_TYPES = (pa.string(), pa.large_string(), pa.string_view())


def is_text_type(kind: pa.DataType) -> bool:
    """A string column, or a dictionary-encoded one (pandas `category`, parquet dictionary columns):
    tasks.shard_reader decodes those to their strings when it reads them."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return kind in TEXT_TYPES


def is_id_type(kind: pa.DataType) -> bool:
    """Ids: strings or integers, plain or dictionary-encoded (or an all-null column)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return kind in TEXT_TYPES or pa.types.is_integer(kind) or pa.types.is_null(kind)


def validate_schema(schema: pa.Schema, uri: str, text_column: str, id_column: str,
                    passthrough: list[str]) -> None:
    names = set(schema.names)
    for role, column in (("text", text_column), ("id", id_column), *(("passthrough", c) for c in passthrough)):
        if column not in names:
            raise InputError(f"{uri}: {role} column {column!r} not found (columns: {sorted(names)})")
    text_type = schema.field(text_column).type
    if not is_text_type(text_type) and not pa.types.is_null(text_type):
        raise InputError(f"{uri}: text column {text_column!r} has type {text_type}, expected string")
    id_type = schema.field(id_column).type
    if not is_id_type(id_type):
        raise InputError(f"{uri}: id column {id_column!r} has type {id_type}, expected string or integer")


def split_rows(row_group_sizes: list[int], shard_rows: int) -> list[tuple[int, int, tuple[RowGroupSlice, ...]]]:
    """Group row groups into shards of about `shard_rows`; split a row group bigger than that."""
    shards: list[tuple[int, int, tuple[RowGroupSlice, ...]]] = []
    pending: list[RowGroupSlice] = []
    pending_start = offset = 0

    def flush(stop: int) -> None:
        nonlocal pending, pending_start
        if pending:
            shards.append((pending_start, stop, tuple(pending)))
        pending, pending_start = [], stop

    for index, size in enumerate(row_group_sizes):
        if size > shard_rows:
            flush(offset)
            for start in range(0, size, shard_rows):
                stop = min(start + shard_rows, size)
                shards.append((offset + start, offset + stop, (RowGroupSlice(index, start, stop),)))
            pending_start = offset + size
        else:
            if pending and (offset - pending_start) + size > shard_rows:
                flush(offset)
            pending.append(RowGroupSlice(index, 0, size))
        offset += size
    flush(offset)
    return shards


def plan_object(conn: S3Connection, obj: ObjectRef, *, text_column: str, id_column: str,
                shard_rows: int, passthrough: list[str] | None = None) -> ObjectPlan:
    """Read only the footer; return the object's shards, or its error (never raises for bad input)."""
    try:
        metadata = read_footer(conn, obj)
        validate_schema(metadata.schema.to_arrow_schema(), obj.uri, text_column, id_column, passthrough or [])
    except InputError as exc:
        return ObjectPlan(obj, error=str(exc))
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    shards = tuple(Shard(obj, start, stop, slices) for start, stop, slices in split_rows(sizes, shard_rows))
    if not shards:  # an empty object still gets its (empty) output part
        shards = (Shard(obj, 0, 0, ()),)
    return ObjectPlan(obj, shards=shards, rows=metadata.num_rows)


def read_footer(conn: S3Connection, obj: ObjectRef) -> pq.FileMetaData:
    """The object's parquet footer. Cached per process by (connection, uri, ETag): planning, the
    output schema and every shard reader of one object share a single footer read."""
    return _read_footer_cached(conn, obj)


@functools.lru_cache(maxsize=256)
def _read_footer_cached(conn: S3Connection, obj: ObjectRef) -> pq.FileMetaData:
    path = S3Uri.parse(obj.uri).arrow_path
    try:
        with conn.arrow_fs.open_input_file(path) as handle:
            return pq.ParquetFile(handle).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(f"{obj.uri}: object disappeared after listing") from exc
        if is_transient_io_error(exc):
            raise  # S3 trouble: the task retries
        raise InputError(f"{obj.uri}: not a readable parquet file ({exc})") from exc


def is_transient_io_error(exc: BaseException) -> bool:
    """A network / S3 error worth retrying, as opposed to bytes that are not what they claim to be."""
    return isinstance(exc, (ConnectionError, TimeoutError)) or "AWS Error" in str(exc)


@task(name="plan-shards", retries=2, retry_delay_seconds=5)
def plan_object_task(conn: S3Connection, obj: ObjectRef, text_column: str, id_column: str,
                     shard_rows: int, passthrough: list[str] | None = None) -> ObjectPlan:
    return plan_object(conn, obj, text_column=text_column, id_column=id_column,
                       shard_rows=shard_rows, passthrough=passthrough)
