"""Spool files live in a per-process directory; directories of dead processes are removed."""
import subprocess
import sys

from tasks.io import part_writer as output_parts


def test_spool_dir_is_per_process_and_dead_processes_are_swept(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_SPOOL_DIR", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"sentinel-spool-{int(dead.stdout)}"
    stale.mkdir()
    (stale / "sentinel-part-x.parquet").write_bytes(b"left by a SIGKILL")
    output_parts.spool_dir.cache_clear()
    try:
        mine = output_parts.spool_dir()
    finally:
        output_parts.spool_dir.cache_clear()
    assert mine.parent == tmp_path and mine.is_dir() and not stale.exists()


def test_batches_are_buffered_into_large_row_groups(tmp_path, monkeypatch):
    """One row group per ROW_GROUP_ROWS rows, not one per processed batch (1,000 rows here)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasks.io.s3_uri import S3Uri

    monkeypatch.setenv("SENTINEL_SPOOL_DIR", str(tmp_path))
    monkeypatch.setattr(output_parts, "ROW_GROUP_ROWS", 2_500)
    output_parts.spool_dir.cache_clear()
    schema = pa.schema([("id", pa.int64()), ("text", pa.string())])
    try:
        writer = output_parts.PartWriter(None, S3Uri.parse("s3://bucket/part-0.parquet"), schema)
        for start in range(0, 7_000, 1_000):
            writer.write(pa.record_batch([pa.array(range(start, start + 1_000)), pa.array(["x"] * 1_000)], schema=schema))
        writer._flush()
        writer._writer.close()
        meta = pq.ParquetFile(writer.path).metadata
        rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert rows == [2_500, 2_500, 2_000] and writer.rows == 7_000
        assert pq.read_table(writer.path).column("id").to_pylist() == list(range(7_000))
    finally:
        writer.path.unlink(missing_ok=True)
        output_parts.spool_dir.cache_clear()
