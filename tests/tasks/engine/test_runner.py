"""run_shard against the real SeaweedFS S3: rows split into the kept and quarantine parts by
status, the main part is the commit record, a committed shard is reused, a failure commits nothing,
a batch function returning other columns than the stage declares is refused."""
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from tasks.engine.planning import plan_object
from tasks.engine.runner import (
    OutputSchemaMismatch,
    ShardResult,
    committed_result,
    part_target,
    quarantine_target,
    run_shard,
)
from tasks.engine.stage import ShardStage
from tasks.io.listing import list_objects
from tasks.io.part_writer import committed_part_metadata
from tasks.io.s3_uri import S3Uri

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


@dataclass(frozen=True)
class StatusByIdStage(ShardStage):
    """Row i gets STATUSES[i % 4]; a batch holding id `fail_at` raises (Triton went away)."""

    fail_at: int | None = None
    extra_column: bool = False
    name = "test-status"
    read_columns = ["id", "text"]
    id_column = "id"
    quality = None
    model_label = "none"
    read_batch_rows = 8
    batches_in_flight = 2

    def output_schema(self, input_schema):
        return SCHEMA

    def config(self):
        return {}

    def to_dict(self):
        return {"fail_at": self.fail_at}

    @classmethod
    def from_dict(cls, doc):
        return cls(**doc)

    def plan(self, conn, obj, shard_rows, shard_bytes):
        raise NotImplementedError

    @asynccontextmanager
    async def open(self, conn, clock, run_dir):
        async def process(record: pa.RecordBatch) -> pa.RecordBatch:
            ids = record.column("id").to_pylist()
            if self.fail_at is not None and self.fail_at in ids:
                raise RuntimeError("Triton went away")
            with clock.timed():
                status = [STATUSES[i % 4] for i in ids]
            columns = {"error": [("bad" if s == "failed" else None) for s in status], "id": ids, "status": status}
            if self.extra_column:
                columns["surprise"] = ids
            return pa.RecordBatch.from_pydict(columns)
        yield process


def read(conn, uri: S3Uri) -> pa.Table:
    import io

    import pyarrow.parquet as pq

    body = conn.boto3_client().get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def test_rows_split_by_status_and_every_id_lands_once(s3_conn, bucket, shard):
    run_dir = f"s3://{bucket}/runner-out/run1"
    result = run_shard(s3_conn, shard, run_dir, StatusByIdStage(), SCHEMA)
    kept, quarantined = read(s3_conn, part_target(run_dir, shard)), read(s3_conn, quarantine_target(run_dir, shard))
    assert set(kept.column("status").to_pylist()) == {"ok", "skipped_empty"}
    assert set(quarantined.column("status").to_pylist()) == {"failed", "flagged"}
    assert sorted(kept.column("id").to_pylist() + quarantined.column("id").to_pylist()) == list(range(40))
    assert result.status_counts == {s: 10 for s in STATUSES} and result.quarantined == 20
    assert result.quarantine_uri == str(quarantine_target(run_dir, shard)) and not result.reused
    assert kept.column("id").to_pylist() == sorted(kept.column("id").to_pylist())  # batch order kept

    again = run_shard(s3_conn, shard, run_dir, StatusByIdStage(fail_at=0), SCHEMA)  # reused: never processed
    assert again.reused and again.status_counts == result.status_counts and again.quarantined == 20
    assert committed_result(s3_conn, shard, run_dir) == again


def test_a_failing_batch_commits_nothing(s3_conn, bucket, shard):
    run_dir = f"s3://{bucket}/runner-out/run2"
    with pytest.raises(RuntimeError, match="Triton went away"):
        run_shard(s3_conn, shard, run_dir, StatusByIdStage(fail_at=30), SCHEMA)
    assert committed_part_metadata(s3_conn, part_target(run_dir, shard)) is None
    assert committed_part_metadata(s3_conn, quarantine_target(run_dir, shard)) is None
    assert committed_result(s3_conn, shard, run_dir) is None


def test_columns_other_than_the_declared_schema_are_refused(s3_conn, bucket, shard):
    run_dir = f"s3://{bucket}/runner-out/run3"
    with pytest.raises(OutputSchemaMismatch, match=r"not declared \['surprise'\]"):
        run_shard(s3_conn, shard, run_dir, StatusByIdStage(extra_column=True), SCHEMA)
    assert committed_result(s3_conn, shard, run_dir) is None


def test_a_failed_shard_record_names_the_shard_and_its_error(shard):
    record = ShardResult.failed(shard, "Triton unavailable", [{"suite": "x"}], error_kind="rerun").to_record()
    assert record == {"shard_id": shard.shard_id, "object_uri": shard.object.uri, "row_start": shard.row_start,
                      "row_stop": shard.row_stop, "error": "Triton unavailable", "error_kind": "rerun",
                      "quality": [{"suite": "x"}]}
