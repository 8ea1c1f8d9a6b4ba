"""Output files of a run: `<output_uri>/<run_key>/part-<shard>.parquet`, written to a local
spool file and uploaded in one PUT, so a part in S3 is always complete."""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.s3_uri import S3Uri
from tasks.storage import S3Connection

# parts up to this size go up in one PutObject (boto3's own multipart threshold is 8 MiB)
SINGLE_PUT_MAX_BYTES = 8 * 2**20


@functools.lru_cache(maxsize=1)
def spool_dir() -> Path:
    """`<SENTINEL_SPOOL_DIR or tmp>/sentinel-spool-<pid>/`. A killed process cannot delete its spool
    files, so the first writer of each process removes the directories of processes that are gone."""
    base = Path(os.environ.get("SENTINEL_SPOOL_DIR") or tempfile.gettempdir())
    for stale in base.glob("sentinel-spool-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    mine = base / f"sentinel-spool-{os.getpid()}"
    mine.mkdir(parents=True, exist_ok=True)
    return mine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PartWriter:
    """Write record batches of one schema; `commit()` uploads, leaving the spool file nowhere."""

    def __init__(self, conn: S3Connection, target: S3Uri, schema: pa.Schema, metadata: dict | None = None):
        self.conn, self.target, self.schema = conn, target, schema
        self.metadata = metadata or {}
        fd, name = tempfile.mkstemp(prefix="sentinel-part-", suffix=".parquet", dir=spool_dir())
        os.close(fd)
        self.path = Path(name)
        self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")
        self.rows = 0

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if table.num_rows:
            self._writer.write(table)
            self.rows += table.num_rows

    def commit(self) -> str:
        self._writer.close()
        try:
            extra = {"sentinel-rows": str(self.rows)} | {k: str(v) for k, v in self.metadata.items()}
            client = self.conn.boto3_client()
            if self.path.stat().st_size <= SINGLE_PUT_MAX_BYTES:  # one PUT, no transfer-manager threads
                with open(self.path, "rb") as body:
                    client.put_object(Bucket=self.target.bucket, Key=self.target.key, Body=body, Metadata=extra)
            else:  # multipart, in parallel
                client.upload_file(str(self.path), self.target.bucket, self.target.key, ExtraArgs={"Metadata": extra})
        finally:
            self.path.unlink(missing_ok=True)
        return str(self.target)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "PartWriter":
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is not None:
            self.abort()


def committed_part_metadata(conn: S3Connection, target: S3Uri) -> dict[str, str] | None:
    """The user metadata of an already-committed part, or None if there is none."""
    client = conn.boto3_client()
    try:
        return client.head_object(Bucket=target.bucket, Key=target.key).get("Metadata", {})
    except client.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def put_json(conn: S3Connection, target: S3Uri, document: dict) -> str:
    body = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
    conn.boto3_client().put_object(Bucket=target.bucket, Key=target.key, Body=body,
                                   ContentType="application/json")
    return str(target)


def put_bytes(conn: S3Connection, target: S3Uri, body: bytes, content_type: str = "text/plain") -> str:
    conn.boto3_client().put_object(Bucket=target.bucket, Key=target.key, Body=body, ContentType=content_type)
    return str(target)
