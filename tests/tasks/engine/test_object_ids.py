"""Ids unique across an object's shards, read back from the committed parts in real S3 (SeaweedFS)."""
import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from tasks.engine.object_ids import object_id_checks
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration


def part(conn, bucket, key, ids):
    upload_table(conn, S3Uri(bucket, key), pa.table({"id": pa.array(ids, pa.int64()), "status": ["ok"] * len(ids)}))
    return f"s3://{bucket}/{key}"


def shard(conn, bucket, obj, start, stop, ids, quarantined=()):
    return {"object_uri": obj, "row_start": start, "row_stop": stop, "shard_id": f"s{start}",
            "output_uri": part(conn, bucket, f"ids/{start}/part.parquet", ids),
            "quarantine_uri": part(conn, bucket, f"ids/{start}/quarantine.parquet", list(quarantined))
            if quarantined else None}


def test_an_id_in_two_shards_of_one_object_is_reported_with_both_row_ranges(s3_conn, bucket):
    obj = f"s3://{bucket}/in/a.parquet"
    shards = [shard(s3_conn, bucket, obj, 0, 4, [1, 2, 3], quarantined=[4]),
              shard(s3_conn, bucket, obj, 4, 8, [5, 6, None], quarantined=[4]),  # 4 again, from quarantine
              shard(s3_conn, bucket, obj, 8, 10, [9, 1])]
    [check] = object_id_checks(s3_conn, shards)
    assert not check["success"] and check["source"] == obj and check["rows"] == 9  # the null id is not counted
    assert check["message"] == (f"{obj}: column 'id' has 2 values in more than one shard "
                                "(id 1: rows 0–4 and 8–10; id 4: rows 0–4 and 4–8)")


def test_unique_ids_pass_and_single_shard_objects_and_failed_shards_are_skipped(s3_conn, bucket):
    a, b = f"s3://{bucket}/in/a.parquet", f"s3://{bucket}/in/b.parquet"
    shards = [shard(s3_conn, bucket, a, 0, 2, [1, 2]), shard(s3_conn, bucket, a, 2, 4, [3, 4]),
              shard(s3_conn, bucket, b, 0, 2, [1, 2]),  # same ids, another object: allowed
              {"object_uri": b, "row_start": 2, "row_stop": 4, "error": "boom"}]
    [check] = object_id_checks(s3_conn, shards)
    assert check["success"] and check["source"] == a and check["rows"] == 4
