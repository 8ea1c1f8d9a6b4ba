"""Listing, shard planning and streaming reads against the real SeaweedFS S3 gateway."""

import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from tasks.engine.planning import plan_object, split_rows
from tasks.io.listing import list_objects
from tasks.io.reader import iter_shard_batches
from tasks.io.s3_uri import S3Uri
from tasks.io.shards import Shard

pytestmark = pytest.mark.integration


def put(conn, bucket, key, table, row_group_size=10):
    upload_table(conn, S3Uri(bucket, key), table, row_group_size=row_group_size)


def table(n, offset=0):
    return pa.table({"id": list(range(offset, offset + n)), "text": [f"Satz {i}" for i in range(offset, offset + n)]})


def test_listing_is_paginated_sorted_and_skips_markers(s3_conn, bucket):
    client = s3_conn.boto3_client()
    for i in range(1005):  # more than one list_objects_v2 page
        client.put_object(Bucket=bucket, Key=f"many/obj-{i:05d}.parquet", Body=b"x")
    client.put_object(Bucket=bucket, Key="many/_SUCCESS", Body=b"")
    client.put_object(Bucket=bucket, Key="many/.hidden", Body=b"x")
    found = list_objects(s3_conn, f"s3://{bucket}/many/")
    assert len(found) == 1005
    assert [f.uri for f in found] == sorted(f.uri for f in found)
    assert all(f.etag and f.size == 1 for f in found)
    assert list_objects(s3_conn, f"s3://{bucket}/many/obj-00007.parquet")[0].uri.endswith("obj-00007.parquet")


def test_plan_and_stream_cover_every_row_once(s3_conn, bucket):
    put(s3_conn, bucket, "plan/a.parquet", table(95), row_group_size=10)
    [obj] = list_objects(s3_conn, f"s3://{bucket}/plan/")
    plan = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=25)
    assert plan.error is None and plan.rows == 95
    seen = []
    for shard in plan.shards:
        rows = [r for b in iter_shard_batches(s3_conn, shard, ["id", "text"], batch_rows=7) for r in b.column("id").to_pylist()]
        assert len(rows) == shard.rows
        seen += rows
    assert seen == list(range(95))


def test_row_range_inside_one_big_row_group(s3_conn, bucket):
    put(s3_conn, bucket, "big/a.parquet", table(100), row_group_size=100)
    [obj] = list_objects(s3_conn, f"s3://{bucket}/big/")
    plan = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=30)
    # #28: text shards cut a row group over the bounds into even row ranges, each reading exactly its rows
    assert [(s.row_start, s.row_stop) for s in plan.shards] == [(0, 25), (25, 50), (50, 75), (75, 100)]
    text_ids = [i for s in plan.shards for b in iter_shard_batches(s3_conn, s, ["id"], 8) for i in b.column("id").to_pylist()]
    assert text_ids == list(range(100))
    # audio plans cut a big row group by rows alone (split_rows)
    ranges = [Shard(obj, start, stop, slices) for start, stop, slices in split_rows([100], 30)]
    assert [(s.row_start, s.row_stop) for s in ranges] == [(0, 30), (30, 60), (60, 90), (90, 100)]
    ids = [i for b in iter_shard_batches(s3_conn, ranges[1], ["id"], 8) for i in b.column("id").to_pylist()]
    assert ids == list(range(30, 60))


def test_bad_objects_get_errors_naming_object_and_column(s3_conn, bucket):
    client = s3_conn.boto3_client()
    client.put_object(Bucket=bucket, Key="bad/notes.parquet", Body=b"this is not parquet at all")
    put(s3_conn, bucket, "bad/no_text.parquet", pa.table({"id": [1], "body": ["x"]}))
    put(s3_conn, bucket, "bad/int_text.parquet", pa.table({"id": [1], "text": [5]}))
    errors = {}
    for obj in list_objects(s3_conn, f"s3://{bucket}/bad/"):
        errors[obj.uri.rsplit("/", 1)[-1]] = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=10).error
    assert "not a readable parquet file" in errors["notes.parquet"] and "bad/notes.parquet" in errors["notes.parquet"]
    assert "text column 'text' not found" in errors["no_text.parquet"]
    assert "has type int64" in errors["int_text.parquet"]


def test_empty_object_gets_one_empty_shard(s3_conn, bucket):
    put(s3_conn, bucket, "empty/a.parquet", table(0))
    [obj] = list_objects(s3_conn, f"s3://{bucket}/empty/")
    plan = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=10)
    assert plan.error is None and len(plan.shards) == 1 and plan.shards[0].rows == 0
    assert list(iter_shard_batches(s3_conn, plan.shards[0], ["id", "text"])) == []
