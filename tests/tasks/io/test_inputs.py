"""An input URI read as its writer meant it, on the real S3 (SeaweedFS) with inputs from the real
tools: every live row once, nothing stale, every skipped object named with its reason."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.io.inputs import list_input
from tasks.io.parquet import InputError, input_schema, read_footer
from tasks.io.s3_uri import S3Uri
from tests.tasks.io import table_writers as writers

pytestmark = pytest.mark.integration


def ids_of(conn, listing) -> list[str]:
    found = []
    for obj in listing.objects:
        path = S3Uri.parse(obj.uri).arrow_path
        found += pq.read_table(path, filesystem=conn.arrow_fs, columns=["id"]).column("id").to_pylist()
    return sorted(found)


def expected(start: int, stop: int) -> list[str]:
    return sorted(f"r{i}" for i in range(start, stop))


def test_spark_folder_reads_committed_parts_only(s3_conn, bucket):
    writers.spark_folder(s3_conn, bucket, "in/spark/")
    listing = list_input(s3_conn, f"s3://{bucket}/in/spark/")
    assert listing.layout == "folder" and ids_of(s3_conn, listing) == expected(0, 100)
    assert len(listing.skipped) == 1 and "/_temporary/0/_temporary/attempt_" in listing.skipped[0]["uri"]
    assert "hidden folder '_temporary/'" in listing.skipped[0]["reason"]
    assert listing.warnings == []


def test_spark_folder_without_success_warns(s3_conn, bucket):
    writers.spark_folder(s3_conn, bucket, "in/spark-running/", success=False)
    listing = list_input(s3_conn, f"s3://{bucket}/in/spark-running/")
    assert ids_of(s3_conn, listing) == expected(0, 100)
    assert len(listing.warnings) == 1 and "no" not in listing.warnings[0][:0] and "_SUCCESS" in listing.warnings[0]


def test_databricks_uncommitted_transaction_is_not_read(s3_conn, bucket):
    writers.databricks_folder(s3_conn, bucket, "in/dbx/")
    listing = list_input(s3_conn, f"s3://{bucket}/in/dbx/")
    assert ids_of(s3_conn, listing) == expected(0, 60)
    [skipped] = listing.skipped
    assert "tid-200" in skipped["uri"] and "uncommitted Databricks transaction 200" in skipped["reason"]


def test_delta_table_reads_the_live_version_and_pins_it(s3_conn, bucket):
    writers.delta_table(s3_conn, bucket, "in/delta/")
    latest = list_input(s3_conn, f"s3://{bucket}/in/delta/")
    assert latest.layout == "delta" and latest.table["version"] == 1
    assert ids_of(s3_conn, latest) == expected(10, 30)  # no deleted row, none twice
    assert [s["reason"] for s in latest.skipped] == ["not in Delta table version 1 (replaced, deleted or never committed)"]
    assert not any("_delta_log" in o.uri for o in latest.objects)
    first = list_input(s3_conn, f"s3://{bucket}/in/delta/", table_version="0")
    assert first.table["version"] == 0 and ids_of(s3_conn, first) == expected(0, 20)
    with pytest.raises(InputError, match="table_version"):
        list_input(s3_conn, f"s3://{bucket}/in/delta/", table_version="yesterday")


def test_iceberg_table_reads_its_current_snapshot(s3_conn, bucket, tmp_path):
    table = writers.iceberg_table(s3_conn, bucket, "lake/", tmp_path)
    root = table.location().rstrip("/") + "/"
    listing = list_input(s3_conn, root)
    assert listing.layout == "iceberg" and listing.table["snapshot_id"] == table.current_snapshot().snapshot_id
    assert ids_of(s3_conn, listing) == expected(10, 30)
    assert listing.skipped and all("not in Iceberg snapshot" in s["reason"] for s in listing.skipped)
    by_metadata = list_input(s3_conn, table.metadata_location)
    assert ids_of(s3_conn, by_metadata) == expected(10, 30)
    first = table.metadata.snapshots[0].snapshot_id
    assert ids_of(s3_conn, list_input(s3_conn, root, table_version=str(first))) == expected(0, 20)


@pytest.mark.parametrize("writer", ["pyarrow", "duckdb", "pandas", "polars"])
def test_hive_partitions_become_typed_columns(s3_conn, bucket, tmp_path, writer):
    prefix = f"in/hive-{writer}/"
    if writer == "pyarrow":
        writers.hive_by_pyarrow(s3_conn, bucket, prefix)
    else:
        getattr(writers, f"hive_by_{writer}")(s3_conn, bucket, prefix, tmp_path)
    listing = list_input(s3_conn, f"s3://{bucket}/{prefix}")
    assert listing.partition_columns == ["dt", "lang"] and ids_of(s3_conn, listing) == [f"r{i}" for i in range(8)]
    for obj in listing.objects:
        values = {name: value for name, value, _ in obj.partition}
        assert f"dt={values['dt']}/lang={values['lang']}/" in obj.uri
        schema = input_schema(read_footer(s3_conn, obj), obj, ["id", "text", "dt", "lang"])
        # polars also writes the partition columns into the files (large strings): the file's own wins
        assert all(schema.field(c).type in (pa.string(), pa.large_string()) for c in ("dt", "lang"))


def test_an_input_list_reads_exactly_the_versions_it_names(s3_conn, bucket):
    from tasks.io.inputs import write_input_list
    from tasks.io.listing import list_objects

    for name in ("a", "b", "c"):
        writers.put(s3_conn, bucket, f"inbox/dt=1/{name}.parquet", writers.parquet_bytes(writers.texts(0, 5)))
    objects = list_objects(s3_conn, f"s3://{bucket}/inbox/")
    target = S3Uri.parse(f"s3://{bucket}/_sentinel/batches/b1.inputs.json")
    uri = write_input_list(s3_conn, target, f"s3://{bucket}/inbox/", objects)
    writers.put(s3_conn, bucket, "inbox/dt=1/b.parquet", writers.parquet_bytes(writers.texts(5, 5)))  # new bytes
    s3_conn.boto3_client().delete_object(Bucket=bucket, Key="inbox/dt=1/c.parquet")
    listing = list_input(s3_conn, uri)
    assert listing.layout == "list" and [o.uri.rsplit("/", 1)[-1] for o in listing.objects] == ["a.parquet"]
    assert listing.objects[0].partition == (("dt", "1", "int32"),)
    reasons = {s["uri"].rsplit("/", 1)[-1]: s["reason"] for s in listing.skipped}
    assert "replaced since" in reasons["b.parquet"] and "deleted since" in reasons["c.parquet"]
