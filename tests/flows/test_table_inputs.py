"""translate-batch over tables, not piles of files (real stack, echo model): a Spark folder with an
aborted attempt, a Delta table after an overwrite, Hive partitions as columns, and the id / text
types other writers use. Every row of the live table exactly once; what was skipped is named."""
import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.io.s3_uri import S3Uri
from tests.flows.test_translate_batch import read_parts
from tests.tasks.io import table_writers as writers

pytestmark = pytest.mark.integration


def run(**params):
    from flows.translate_batch import translate_batch

    state = translate_batch(return_state=True, model="echo", source_lang="de", data_quality=True, **params)
    return state, state.result(raise_on_failure=False)


def manifest(conn, summary) -> dict:
    uri = S3Uri.parse(summary["written"]["manifest"])
    return json.loads(conn.boto3_client().get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read())


def test_spark_folder_with_an_aborted_attempt_reads_each_row_once(full_stack, s3_conn, bucket):
    writers.spark_folder(s3_conn, bucket, "tables/spark/")
    state, summary = run(input_uri=f"s3://{bucket}/tables/spark/", output_uri=f"s3://{bucket}/tables-out/spark/")
    assert state.is_completed(), summary
    out = read_parts(s3_conn, summary["output_dir"])
    assert sorted(out.column("id").to_pylist()) == sorted(f"r{i}" for i in range(100))
    assert not any("stale" in t for t in out.column("translation").to_pylist())
    doc = manifest(s3_conn, summary)
    assert doc["input"]["layout"] == "folder" and doc["input"]["skipped_count"] == 1
    assert "_temporary" in doc["input"]["skipped"][0]["uri"]


def test_delta_table_after_overwrite_and_its_pinned_version(full_stack, s3_conn, bucket):
    writers.delta_table(s3_conn, bucket, "tables/delta/")
    out_uri = f"s3://{bucket}/tables-out/delta/"
    state, latest = run(input_uri=f"s3://{bucket}/tables/delta/", output_uri=out_uri)
    assert state.is_completed(), latest
    assert sorted(read_parts(s3_conn, latest["output_dir"]).column("id").to_pylist()) == sorted(
        f"r{i}" for i in range(10, 30))
    assert manifest(s3_conn, latest)["config"]["table"] == {"format": "delta", "version": 1}
    state, first = run(input_uri=f"s3://{bucket}/tables/delta/", output_uri=out_uri, table_version="0")
    assert state.is_completed(), first
    assert first["run_key"] != latest["run_key"]
    assert sorted(read_parts(s3_conn, first["output_dir"]).column("id").to_pylist()) == sorted(
        f"r{i}" for i in range(20))


def test_hive_partitions_are_columns_and_the_language_column(full_stack, s3_conn, bucket):
    writers.hive_by_pyarrow(s3_conn, bucket, "tables/hive/")
    state, summary = run(input_uri=f"s3://{bucket}/tables/hive/", output_uri=f"s3://{bucket}/tables-out/hive/",
                         language_column="lang", candidate_source_langs=["de", "fr"])
    assert state.is_completed(), summary
    rows = read_parts(s3_conn, summary["output_dir"]).to_pylist()
    assert len(rows) == 8 and all(r["dt"] in ("2026-12-01", "2026-12-02") for r in rows)
    assert all(r["source_lang"] == r["lang"] for r in rows)


def test_a_missing_partition_or_column_names_the_parameter(full_stack, s3_conn, bucket):
    writers.hive_by_pyarrow(s3_conn, bucket, "tables/hive-bad/")
    state, summary = run(input_uri=f"s3://{bucket}/tables/hive-bad/", output_uri=f"s3://{bucket}/tables-out/bad/",
                         language_column="language")
    assert state.is_failed()
    assert "set by language_column" in json.dumps(summary if isinstance(summary, dict) else str(summary)) or \
        "set by language_column" in str(summary)


def test_uuid_ids_nested_text_and_unannotated_bytes(full_stack, s3_conn, bucket, tmp_path):
    """DuckDB's UUIDs (parquet UUID logical type), a struct column, and a BLOB column holding text
    (BYTE_ARRAY without the UTF-8 annotation, as Impala and Hive write text), one cell not UTF-8."""
    import duckdb

    duckdb.sql(f"""COPY (SELECT gen_random_uuid() AS id, {{'text': 'Hallo ' || i || '.', 'n': i}} AS payload,
                       CASE WHEN i = 5 THEN '\\xFF\\xFE'::BLOB ELSE encode('Grüße ' || i) END AS raw
                       FROM range(6) t(i)) TO '{tmp_path / "t.parquet"}' (FORMAT parquet)""")
    schema = pq.read_schema(tmp_path / "t.parquet")
    assert str(schema.field("id").type) == "extension<arrow.uuid>" and schema.field("raw").type == pa.binary()
    ids = [str(uuid.UUID(bytes=b)) for b in pq.read_table(tmp_path / "t.parquet").column("id").storage.to_pylist()] \
        if hasattr(pq.read_table(tmp_path / "t.parquet").column("id"), "storage") else None
    writers.put(s3_conn, bucket, "tables/types/t.parquet", (tmp_path / "t.parquet").read_bytes())
    state, nested = run(input_uri=f"s3://{bucket}/tables/types/", output_uri=f"s3://{bucket}/tables-out/types/",
                        text_column="payload.text")
    assert state.is_completed(), nested
    rows = read_parts(s3_conn, nested["output_dir"]).to_pylist()
    assert all(str(uuid.UUID(r["id"])) == r["id"] for r in rows) and len({r["id"] for r in rows}) == 6
    assert ids is None or sorted(r["id"] for r in rows) == sorted(ids)
    assert sorted(r["translation"] for r in rows) == [f"Hallo {i}." for i in range(6)]
    state, raw = run(input_uri=f"s3://{bucket}/tables/types/", output_uri=f"s3://{bucket}/tables-out/types-raw/",
                     text_column="raw")
    assert state.is_completed(), raw
    kept = read_parts(s3_conn, raw["output_dir"]).to_pylist()
    assert sorted(r["translation"] for r in kept if r["status"] == "ok") == [f"Grüße {i}" for i in range(5)]
    assert raw["status_counts"].get("failed") == 1  # the bytes that are not UTF-8: failed, with the reason


def test_kept_rows_appended_to_a_delta_table_once_per_run_key(full_stack, s3_conn, bucket):
    from deltalake import DeltaTable

    from tasks.io.delta import storage_options

    writers.spark_folder(s3_conn, bucket, "tables/to-delta/")
    table_uri = f"s3://{bucket}/lake/translations"
    params = dict(input_uri=f"s3://{bucket}/tables/to-delta/", output_uri=f"s3://{bucket}/tables-out/to-delta/",
                  delta_output_uri=table_uri)
    state, first = run(**params)
    assert state.is_completed(), first
    assert first["delta_output"]["appended"] and first["delta_output"]["rows"] == 100
    state, again = run(**params)  # a rerun of the same run key: no second commit
    assert state.is_completed() and not again["delta_output"]["appended"]
    delta = DeltaTable(table_uri, storage_options=storage_options(s3_conn))
    assert delta.version() == 0 and pa.table(delta.to_pyarrow_table()).num_rows == 100
    assert sorted(delta.to_pyarrow_table().column("id").to_pylist()) == sorted(f"r{i}" for i in range(100))
