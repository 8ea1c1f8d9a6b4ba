"""Audio cells of one record batch, checked before inference: bytes held in the row, or the `s3://`
object the row names, fetched concurrently (FETCH_THREADS); an empty, missing or oversized clip is
that row's error, never the shard's."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import InvalidS3Uri, S3Uri

FETCH_THREADS = 8


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
