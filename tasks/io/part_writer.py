"""Output files of a run: `<output_uri>/<run_key>/part-<shard>.parquet`, written to a local spool file
and uploaded whole (one PUT up to SINGLE_PUT_MAX_BYTES, a multipart upload above), so a part in S3
is always complete: it appears at its key only once every byte is there. Rows are buffered into row
groups of up to ROW_GROUP_ROWS rows (or ROW_GROUP_BYTES), not one row group per processed batch:
fewer, larger row groups are what parquet readers downstream scan fastest."""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

# parts up to this size go up in one PutObject (boto3's own multipart threshold is 8 MiB)
SINGLE_PUT_MAX_BYTES = 8 * 2**20
ROW_GROUP_ROWS = 65_536
ROW_GROUP_BYTES = 64 * 2**20  # in Arrow memory: bounds the buffer when rows are large (passthrough data)


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
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = self._buffered_bytes = 0
        self.rows = 0

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if not table.num_rows:
            return
        self._buffer += table.to_batches() if isinstance(table, pa.Table) else [table]
        self._buffered_rows += table.num_rows
        self._buffered_bytes += table.nbytes
        self.rows += table.num_rows
        if self._buffered_rows >= ROW_GROUP_ROWS:
            self._flush(whole_groups_only=True)
        elif self._buffered_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self, whole_groups_only: bool = False) -> None:
        """Write the buffer as row groups; with `whole_groups_only`, keep a remainder shorter
        than ROW_GROUP_ROWS for the next group."""
        if not self._buffer:
            return
        table = pa.Table.from_batches(self._buffer, self.schema)
        cut = table.num_rows - table.num_rows % ROW_GROUP_ROWS if whole_groups_only else table.num_rows
        if cut:
            self._writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(cut)
        self._buffer, self._buffered_rows, self._buffered_bytes = rest.to_batches(), rest.num_rows, rest.nbytes

    def commit(self) -> str:
        self._flush()
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
        self._buffer = []
        try:
            self._writer.close()
        finally:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> PartWriter:
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
