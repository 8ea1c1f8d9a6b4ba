"""run_shard against the real SeaweedFS S3: rows split into the kept and quarantine parts by
status, the main part is the commit record, a committed shard is reused, a failure commits nothing."""
from contextlib import asynccontextmanager

import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from tasks.listing import list_objects
from tasks.output_parts import committed_part_metadata
from tasks.s3_uri import S3Uri
from tasks.shard_reader import iter_shard_batches
from tasks.shard_runner import committed_result, part_target, quarantine_target, run_shard
from tasks.sharding import plan_object

pytestmark = pytest.mark.integration

STATUSES = ["ok", "skipped_empty", "failed", "flagged"]
SCHEMA = pa.schema([("id", pa.int64()), ("status", pa.string()), ("error", pa.string())])


@pytest.fixture
def shard(s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "runner/in.parquet"),
                 pa.table({"id": list(range(40)), "text": [f"t{i}" for i in range(40)]}), row_group_size=8)
    [obj] = list_objects(s3_conn, f"s3://{bucket}/runner/in.parquet")
    [only] = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=100).shards
    return only


def by_id_status(fail_at: int | None = None):
    @asynccontextmanager
    async def processor(clock):
        async def process(record: pa.RecordBatch) -> pa.RecordBatch:
            ids = record.column("id").to_pylist()
            if fail_at is not None and fail_at in ids:
                raise RuntimeError("Triton went away")
            with clock.timed():
                status = [STATUSES[i % 4] for i in ids]
            return pa.RecordBatch.from_pydict({
                "error": [("bad" if s == "failed" else None) for s in status], "id": ids, "status": status})
        yield process
    return processor


def read(conn, uri: S3Uri) -> pa.Table:
    import io

    import pyarrow.parquet as pq

    body = conn.boto3_client().get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def test_rows_split_by_status_and_every_id_lands_once(s3_conn, bucket, shard):
    run_dir = f"s3://{bucket}/runner-out/run1"
    result = run_shard(s3_conn, shard, run_dir, SCHEMA,
                       lambda: iter_shard_batches(s3_conn, shard, ["id", "text"], 8), by_id_status(), 2)
    kept, quarantined = read(s3_conn, part_target(run_dir, shard)), read(s3_conn, quarantine_target(run_dir, shard))
    assert set(kept.column("status").to_pylist()) == {"ok", "skipped_empty"}
    assert set(quarantined.column("status").to_pylist()) == {"failed", "flagged"}
    assert sorted(kept.column("id").to_pylist() + quarantined.column("id").to_pylist()) == list(range(40))
    assert result.status_counts == {s: 10 for s in STATUSES} and result.quarantined == 20
    assert result.quarantine_uri == str(quarantine_target(run_dir, shard)) and not result.reused
    assert kept.column("id").to_pylist() == sorted(kept.column("id").to_pylist())  # batch order kept

    again = run_shard(s3_conn, shard, run_dir, SCHEMA, lambda: iter([]), by_id_status(), 2)
    assert again.reused and again.status_counts == result.status_counts and again.quarantined == 20
    assert committed_result(s3_conn, shard, run_dir) == again


def test_a_failing_batch_commits_nothing(s3_conn, bucket, shard):
    run_dir = f"s3://{bucket}/runner-out/run2"
    with pytest.raises(RuntimeError, match="Triton went away"):
        run_shard(s3_conn, shard, run_dir, SCHEMA,
                  lambda: iter_shard_batches(s3_conn, shard, ["id", "text"], 8), by_id_status(fail_at=30), 2)
    assert committed_part_metadata(s3_conn, part_target(run_dir, shard)) is None
    assert committed_part_metadata(s3_conn, quarantine_target(run_dir, shard)) is None
    assert committed_result(s3_conn, shard, run_dir) is None
