"""Audio inputs of the speech flows: parquet schema checks and shard plans for an audio-bytes or an
audio-URI column, fetching `s3://` audio objects, per-row checks before inference, and word error
rate (for tests, the demo and the benchmark)."""
from __future__ import annotations

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from tasks.listing import ObjectRef
from tasks.s3_uri import InvalidS3Uri, S3Uri
from tasks.sharding import InputError, ObjectPlan, Shard, is_id_type, is_text_type, read_footer, split_rows
from tasks.storage import S3Connection

BINARY_TYPES = (pa.binary(), pa.large_binary(), pa.binary_view())
FETCH_THREADS = 8


# ---- which column holds the audio ----------------------------------------------------------------

@dataclass(frozen=True)
class AudioColumns:
    """Exactly one of `audio` (encoded file bytes) or `audio_uri` (s3:// URIs) is set."""

    id: str = "id"
    audio: str | None = "audio"
    audio_uri: str | None = None
    passthrough: tuple[str, ...] = ()

    def __post_init__(self):
        if bool(self.audio) == bool(self.audio_uri):
            raise ValueError("set exactly one of audio_column (bytes) and audio_uri_column (s3:// URIs), "
                             f"got audio_column={self.audio!r}, audio_uri_column={self.audio_uri!r}")

    @property
    def source(self) -> str:
        return self.audio or self.audio_uri

    @property
    def read(self) -> list[str]:
        return list(dict.fromkeys([self.id, self.source, *self.passthrough]))


def validate_audio_schema(schema: pa.Schema, uri: str, columns: AudioColumns) -> None:
    names = set(schema.names)
    role = "audio" if columns.audio else "audio URI"
    wanted = ((role, columns.source), ("id", columns.id), *(("passthrough", c) for c in columns.passthrough))
    for what, column in wanted:
        if column not in names:
            raise InputError(f"{uri}: {what} column {column!r} not found (columns: {sorted(names)})")
    kind = schema.field(columns.source).type
    expected_ok = (kind in BINARY_TYPES) if columns.audio else is_text_type(kind)
    if not expected_ok and not pa.types.is_null(kind):
        raise InputError(f"{uri}: {role} column {columns.source!r} has type {kind}, "
                         f"expected {'binary (encoded audio file bytes)' if columns.audio else 'string (s3:// URIs)'}")
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


# ---- the audio of one record batch ---------------------------------------------------------------

@dataclass
class AudioCell:
    """One row's audio: bytes to send, or why not (`empty` = nothing there: skipped, not failed)."""

    data: bytes | None = None
    error: str | None = None
    empty: bool = False


def check_audio_bytes(data: bytes, max_bytes: int, where: str = "audio") -> AudioCell:
    if len(data) == 0:
        return AudioCell(error=f"{where} is empty (0 bytes)")
    if len(data) > max_bytes:
        return AudioCell(error=f"{where} is {len(data)} bytes, over max_audio_bytes={max_bytes}")
    return AudioCell(data=data)


def fetch_audio_object(conn: S3Connection, uri: str, max_bytes: int) -> AudioCell:
    """One s3:// audio object; a missing/invalid/oversized object is a row error, a network error raises."""
    try:
        target = S3Uri.parse(uri.strip())
    except InvalidS3Uri as exc:
        return AudioCell(error=f"audio URI {uri!r} is not valid: {exc}")
    if not target.key:
        return AudioCell(error=f"audio URI {uri!r} names a bucket, not an object")
    client = conn.boto3_client()
    try:
        response = client.get_object(Bucket=target.bucket, Key=target.key)
    except client.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return AudioCell(error=f"audio object {uri} not found")
        if code == "NoSuchBucket":
            return AudioCell(error=f"audio object {uri}: bucket {target.bucket!r} not found")
        if code in ("AccessDenied", "403", "InvalidObjectState"):
            return AudioCell(error=f"audio object {uri}: {code}")
        raise
    with response["Body"] as body:
        if response.get("ContentLength", 0) > max_bytes:
            return AudioCell(error=f"audio object {uri} is {response['ContentLength']} bytes, "
                                   f"over max_audio_bytes={max_bytes}")
        return check_audio_bytes(body.read(), max_bytes, where=f"audio object {uri}")


def load_audio_cells(conn: S3Connection, values: list, from_uri: bool, max_bytes: int) -> list[AudioCell]:
    """The column's values (bytes or URIs) -> one AudioCell per row; URIs fetched in parallel."""
    cells = [AudioCell(empty=True) if v is None or (from_uri and not str(v).strip()) else None for v in values]
    if not from_uri:
        return [cell or check_audio_bytes(bytes(v), max_bytes) for cell, v in zip(cells, values)]
    todo = [i for i, cell in enumerate(cells) if cell is None]
    with ThreadPoolExecutor(min(FETCH_THREADS, max(len(todo), 1))) as pool:
        for i, cell in zip(todo, pool.map(lambda i: fetch_audio_object(conn, str(values[i]), max_bytes), todo)):
            cells[i] = cell
    return cells


# ---- word error rate -----------------------------------------------------------------------------

_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
            "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def normalize_words(text: str) -> list[str]:
    """Lower case, no punctuation (hyphens split words, apostrophes kept), digits 0-10 spelled out."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("-", " ")
    words = re.sub(r"[^\w\s']", " ", text).split()
    return [_NUMBERS.get(w, w) for w in (w.strip("'") for w in words) if w]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: word edits (substitutions + insertions + deletions) over all reference words."""
    edits = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref_words = normalize_words(ref)
        edits += edit_distance(ref_words, normalize_words(hyp))
        words += len(ref_words)
    return edits / words if words else 0.0
