"""Work units sized by the data, not the files (real stack, echo model): many small objects share a
few shards and a run's task runs grow with its shards; one huge row group is spread over several
shards; every input row lands exactly once, and the manifest still says which part holds which
object's rows."""
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.flows.test_translate_batch import read_parts

pytestmark = pytest.mark.integration


def run(**params):
    from flows.translate_batch import translate_batch

    state = translate_batch(return_state=True, model="echo", source_lang="de", **params)
    return state, state.result(raise_on_failure=False)


def put_table(conn, bucket: str, key: str, table: pa.Table, row_group_size: int | None = None) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    conn.boto3_client().put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def texts(start: int, count: int) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + count), pa.int64()),
                     "text": [f"Satz {i}." for i in range(start, start + count)]})


def read_manifest(conn, uri: str) -> dict:
    import json

    from tasks.io.s3_uri import S3Uri

    where = S3Uri.parse(uri)
    return json.loads(conn.boto3_client().get_object(Bucket=where.bucket, Key=where.key)["Body"].read())


def task_run_names(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return [r.name for r in runs]


def test_plan_chunks_double_up_to_the_largest():
    from flows.job import MAX_PLAN_CHUNK, plan_chunks

    sizes = [len(chunk) for chunk in plan_chunks(list(range(100_000)))]
    assert sizes[:4] == [250, 500, 1000, 2000] and max(sizes) == MAX_PLAN_CHUNK and sum(sizes) == 100_000
    assert len(sizes) == 11


def test_many_small_objects_share_a_few_shards(full_stack, s3_conn, bucket):
    for n in range(300):  # a stream's landing: 300 objects of 10 rows; ids repeat across objects (0-9 each)
        put_table(s3_conn, bucket, f"stream/obj-{n:04d}.parquet", texts(0, 10))
    state, summary = run(input_uri=f"s3://{bucket}/stream/", output_uri=f"s3://{bucket}/out-stream/", shard_rows=1000)
    assert state.is_completed(), summary
    out = read_parts(s3_conn, summary["output_dir"])
    assert out.num_rows == 3000 and summary["status_counts"] == {"ok": 3000}
    assert [s["objects"] for s in summary["shards"]] == [100, 100, 100]  # the flow's result: counts
    shards = read_manifest(s3_conn, summary["written"]["manifest"])["shards"]
    assert len(shards) == 3 and all(len(s["pieces"]) == 100 for s in shards)
    held = {p["uri"] for s in shards for p in s["pieces"]}
    assert len(held) == 300  # every object in exactly one part, named with its rows
    names = task_run_names(summary["flow_run"]["id"])
    assert sum(n.startswith("translate-shard-") for n in names) == 3
    assert len(names) <= 3 + 8, names  # listing, a few planning chunks, the shards, ids, the report


def test_one_huge_row_group_is_spread_over_shards(full_stack, s3_conn, bucket):
    put_table(s3_conn, bucket, "huge/one-row-group.parquet", texts(0, 100_000), row_group_size=100_000)
    assert pq.ParquetFile(io.BytesIO(s3_conn.boto3_client().get_object(
        Bucket=bucket, Key="huge/one-row-group.parquet")["Body"].read())).metadata.num_row_groups == 1
    state, summary = run(input_uri=f"s3://{bucket}/huge/", output_uri=f"s3://{bucket}/out-huge/",
                         shard_rows=20_000, data_quality=False)
    assert state.is_completed(), summary
    assert len(summary["shards"]) == 5 and {s["row_stop"] - s["row_start"] for s in summary["shards"]} == {20_000}
    ids = read_parts(s3_conn, summary["output_dir"]).column("id")
    assert len(ids) == 100_000 and sorted(ids.to_pylist()) == list(range(100_000))  # every row exactly once
    state, again = run(input_uri=f"s3://{bucket}/huge/", output_uri=f"s3://{bucket}/out-huge/",
                       shard_rows=20_000, data_quality=False)
    assert again["run_key"] == summary["run_key"] and all(s["reused"] for s in again["shards"])
