"""Audio inputs of the speech flows: parquet schema checks and shard plans for an audio-bytes or an
audio-URI column, fetching `s3://` audio objects, per-row checks before inference, and word error
rate (for tests, the demo and the benchmark)."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tasks.engine.planning import split_rows
from tasks.io.listing import ObjectRef
from tasks.io.parquet import InputError, is_id_type, is_text_type, read_footer
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan, Shard

BINARY_TYPES = (pa.binary(), pa.large_binary(), pa.binary_view())


# ---- which column holds the audio ----------------------------------------------------------------

@dataclass(frozen=True)
class AudioColumns:
    """Exactly one of `audio` (encoded file bytes) or `audio_uri` (s3:// URIs) is set."""

    id: str = "id"
    audio: str | None = "audio"
    audio_uri: str | None = None
    passthrough: tuple[str, ...] = ()
    prompt: str | None = None  # a text column: each row's own prompt for Whisper (context, names, terms)

    def __post_init__(self):
        if bool(self.audio) == bool(self.audio_uri):
            raise ValueError("set exactly one of audio_column (bytes) and audio_uri_column (s3:// URIs), "
                             f"got audio_column={self.audio!r}, audio_uri_column={self.audio_uri!r}")

    @property
    def source(self) -> str:
        return self.audio or self.audio_uri

    @property
    def read(self) -> list[str]:
        return list(dict.fromkeys([self.id, self.source, *self.passthrough, *([self.prompt] if self.prompt else [])]))


def validate_audio_schema(schema: pa.Schema, uri: str, columns: AudioColumns) -> None:
    names = set(schema.names)
    role = "audio" if columns.audio else "audio URI"
    wanted = ((role, columns.source), ("id", columns.id), *(("passthrough", c) for c in columns.passthrough),
              *((("prompt", columns.prompt),) if columns.prompt else ()))
    for what, column in wanted:
        if column not in names:
            raise InputError(f"{uri}: {what} column {column!r} not found (columns: {sorted(names)})")
    kind = schema.field(columns.source).type
    expected_ok = (kind in BINARY_TYPES) if columns.audio else is_text_type(kind)
    if not expected_ok and not pa.types.is_null(kind):
        raise InputError(f"{uri}: {role} column {columns.source!r} has type {kind}, "
                         f"expected {'binary (encoded audio file bytes)' if columns.audio else 'string (s3:// URIs)'}")
    if columns.prompt and not (is_text_type(schema.field(columns.prompt).type)
                               or pa.types.is_null(schema.field(columns.prompt).type)):
        raise InputError(f"{uri}: prompt column {columns.prompt!r} has type {schema.field(columns.prompt).type}, "
                         "expected string")
    id_type = schema.field(columns.id).type
    if not is_id_type(id_type):
        raise InputError(f"{uri}: id column {columns.id!r} has type {id_type}, expected string or integer")


def plan_audio_object(conn: S3Connection, obj: ObjectRef, columns: AudioColumns, shard_rows: int) -> ObjectPlan:
    """Read only the footer; return the object's shards, or its error (never raises for bad input)."""
    try:
        metadata = read_footer(conn, obj)
        validate_audio_schema(metadata.schema.to_arrow_schema(), obj.uri, columns)
    except InputError as exc:
        return ObjectPlan(obj, error=str(exc))
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    shards = tuple(Shard(obj, start, stop, slices) for start, stop, slices in split_rows(sizes, shard_rows))
    return ObjectPlan(obj, shards=shards or (Shard(obj, 0, 0, ()),), rows=metadata.num_rows)
