"""Input folders written the way users' tools write them, on the real S3 (SeaweedFS): Spark's and
Databricks' commit protocols (reproduced file by file), Hive partitions from pyarrow, DuckDB, pandas
and polars, Delta Lake tables from delta-rs, Iceberg tables from pyiceberg (SQL catalog on SQLite)."""
from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.io.delta import storage_options
from tasks.io.iceberg import properties
from tasks.io.s3 import S3Connection


def put(conn: S3Connection, bucket: str, key: str, body: bytes) -> None:
    conn.boto3_client().put_object(Bucket=bucket, Key=key, Body=body)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def upload_dir(conn: S3Connection, local: Path, bucket: str, prefix: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            put(conn, bucket, prefix + str(path.relative_to(local)), path.read_bytes())


def texts(start: int, count: int, tag: str = "") -> pa.Table:
    return pa.table({"id": [f"r{i}" for i in range(start, start + count)],
                     "text": [f"Satz {i}{tag}." for i in range(start, start + count)]})


def spark_folder(conn, bucket: str, prefix: str, success: bool = True) -> None:
    """Two committed parts (rows 0-99), an aborted task attempt left in _temporary (rows 50-99 again),
    checksums and _SUCCESS, as Hadoop's FileOutputCommitter (v1) leaves them after a retried task."""
    for n, (start, count) in enumerate([(0, 50), (50, 50)]):
        name = f"part-0000{n}-{uuid.uuid4()}-c000.snappy.parquet"
        put(conn, bucket, prefix + name, parquet_bytes(texts(start, count)))
        put(conn, bucket, prefix + f".{name}.crc", b"crc")
    attempt = "_temporary/0/_temporary/attempt_202612011200_0001_m_000001_3/"
    put(conn, bucket, prefix + attempt + f"part-00001-{uuid.uuid4()}-c000.snappy.parquet",
        parquet_bytes(texts(50, 50, " (stale)")))
    if success:
        put(conn, bucket, prefix + "_SUCCESS", b"")


def databricks_folder(conn, bucket: str, prefix: str) -> None:
    """Transaction 100 committed rows 0-59; transaction 200 started, wrote rows 60-99, never committed."""
    committed = "part-00000-tid-100-0f0e0d0c-0-c000.snappy.parquet"
    put(conn, bucket, prefix + committed, parquet_bytes(texts(0, 60)))
    put(conn, bucket, prefix + "_started_100", b"")
    put(conn, bucket, prefix + "_committed_100", json.dumps({"added": [committed], "removed": []}).encode())
    put(conn, bucket, prefix + "part-00000-tid-200-1a1b1c1d-0-c000.snappy.parquet", parquet_bytes(texts(60, 40)))
    put(conn, bucket, prefix + "_started_200", b"")
    put(conn, bucket, prefix + "_SUCCESS", b"")


def languages_table() -> pa.Table:
    return pa.table({"id": [f"r{i}" for i in range(8)], "text": [f"Text {i}." for i in range(8)],
                     "dt": ["2026-12-01"] * 4 + ["2026-12-02"] * 4, "lang": ["de", "fr"] * 4})


def hive_by_pyarrow(conn, bucket: str, prefix: str) -> None:
    import pyarrow.dataset as ds

    ds.write_dataset(languages_table(), f"{bucket}/{prefix}".rstrip("/"), format="parquet", filesystem=conn.arrow_fs,
                     partitioning=["dt", "lang"], partitioning_flavor="hive")


def hive_by_duckdb(conn, bucket: str, prefix: str, tmp: Path) -> None:
    import duckdb

    rows = languages_table()  # noqa: F841 (read by DuckDB's replacement scan)
    duckdb.sql(f"COPY rows TO '{tmp / 'duck'}' (FORMAT parquet, PARTITION_BY (dt, lang))")
    upload_dir(conn, tmp / "duck", bucket, prefix)


def hive_by_pandas(conn, bucket: str, prefix: str, tmp: Path) -> None:
    languages_table().to_pandas().to_parquet(tmp / "pandas", partition_cols=["dt", "lang"])
    upload_dir(conn, tmp / "pandas", bucket, prefix)


def hive_by_polars(conn, bucket: str, prefix: str, tmp: Path) -> None:
    import polars as pl

    pl.from_arrow(languages_table()).write_parquet(tmp / "polars", partition_by=["dt", "lang"])
    upload_dir(conn, tmp / "polars", bucket, prefix)


def delta_table(conn, bucket: str, prefix: str) -> str:
    """Version 0: rows 0-19; version 1 (overwrite): rows 10-29 — ten of version 0's rows replaced."""
    from deltalake import write_deltalake

    uri = f"s3://{bucket}/{prefix}".rstrip("/")
    options = storage_options(conn) | {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    write_deltalake(uri, texts(0, 20), storage_options=options)
    write_deltalake(uri, texts(10, 20), mode="overwrite", storage_options=options)
    return uri


def iceberg_table(conn, bucket: str, prefix: str, tmp: Path):
    """A table with three snapshots: rows 0-19, rows 20-29 appended, then rows 0-9 deleted."""
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("tests", uri=f"sqlite:///{tmp / 'catalog.db'}", warehouse=f"s3://{bucket}/{prefix}",
                         **properties(conn))
    catalog.create_namespace("lake")
    table = catalog.create_table("lake.texts", schema=texts(0, 1).schema)
    table.append(texts(0, 20))
    table.append(texts(20, 10))
    table.delete("id IN ('r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9')")
    return table
