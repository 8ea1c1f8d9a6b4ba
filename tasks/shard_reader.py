"""Stream one shard's rows from S3: only its row groups, only the needed columns,
`batch_rows` at a time. Never loads the whole object."""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.s3_uri import S3Uri
from tasks.sharding import InputError, Shard, read_footer
from tasks.storage import S3Connection


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
                yield batch.slice(lo, hi - lo)
            if offset >= stop:
                return
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, (ConnectionError, TimeoutError)):
            raise
        raise InputError(f"{shard.object.uri}: row group {index} is unreadable ({exc})") from exc
