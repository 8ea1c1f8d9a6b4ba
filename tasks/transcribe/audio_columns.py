"""Audio inputs of the speech flows: which column holds the audio (bytes or `s3://` URIs), schema
checks that name the object and column, and shard plans (a large row group is split into row
ranges: clips are few and costly)."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tasks.engine.planning import check_columns, schema_key, split_rows
from tasks.io.listing import ObjectRef
from tasks.io.parquet import InputError, input_schema, is_id_type, is_text_type, read_footer
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
    """`schema` as input_schema gives it (partition and nested columns included)."""
    role = "audio" if columns.audio else "audio URI"
    check_columns(schema, uri, [("audio_column" if columns.audio else "audio_uri_column", columns.source),
                                ("id_column", columns.id), *(("passthrough_columns", c) for c in columns.passthrough),
                                *((("prompt_column", columns.prompt),) if columns.prompt else ())])
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
        raise InputError(f"{uri}: id column {columns.id!r} has type {id_type}, expected string, integer or UUID")


def plan_audio_object(conn: S3Connection, obj: ObjectRef, columns: AudioColumns, shard_rows: int) -> ObjectPlan:
    """Read only the footer; return the object's shards, or its error (never raises for bad input)."""
    try:
        metadata = read_footer(conn, obj)
        schema = input_schema(metadata, obj, columns.read)
        validate_audio_schema(schema, obj.uri, columns)
    except InputError as exc:
        return ObjectPlan(obj, error=str(exc))
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    shards = tuple(Shard(obj, start, stop, slices) for start, stop, slices in split_rows(sizes, shard_rows))
    return ObjectPlan(obj, shards=shards or (Shard(obj, 0, 0, ()),), rows=metadata.num_rows,
                      schema_key=schema_key(schema, columns.read))
