"""finish_run / finish_empty_run on the real stack (SeaweedFS S3, Prefect server): report.json,
report.md and manifest.json beside the parts, `_SUCCESS` only for a Completed run, the report
artifact, and the outcome (quarantine share, empty input)."""
import json
import uuid

import pytest

pytestmark = pytest.mark.integration


def read(conn, uri: str) -> bytes | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return conn.boto3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except conn.boto3_client().exceptions.NoSuchKey:
        return None


def latest_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [artifact] = client.read_latest_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return artifact


def make_record(bucket: str, shards: list[dict], inputs: list[dict] | None = None):
    from tasks.engine.object_entries import InputEntries
    from tasks.engine.run_record import RunRecord

    key = uuid.uuid4().hex[:16]
    record = RunRecord(run_key=key, config_hash="h", config={"model": "echo"}, input_uri=f"s3://{bucket}/in/",
                       output_dir=f"s3://{bucket}/out/{key}", model="echo")
    record.inputs = InputEntries(inputs if inputs is not None else [{"uri": f"s3://{bucket}/in/a.parquet", "rows": 320}])
    record.shards = shards
    return record


def shard(bucket: str, start: int, stop: int, **counts) -> dict:
    quarantined = counts.get("flagged", 0) + counts.get("failed", 0)
    return {"shard_id": f"s{start}", "object_uri": f"s3://{bucket}/in/a.parquet", "row_start": start,
            "row_stop": stop, "output_uri": "", "rows": sum(counts.values()), "status_counts": counts,
            "seconds": 1.0, "quarantined": quarantined, "guard_seconds": 0.25, "quality": []}


def finish(conn, record, **kwargs):
    from prefect import flow

    from flows.run_report import ShardProgress
    from flows.run_steps import finish_empty_run, finish_run

    @flow(name="test-finish-run")
    def finishing():
        if not record.inputs:
            return finish_empty_run(conn, record, 0.0, "test", **kwargs)
        progress = ShardProgress(len(record.shards), "shards")
        for done in record.shards:
            progress.advance(done)
        return finish_run(conn, record, 0.0, "test", progress=progress, **kwargs)

    state = finishing(return_state=True)
    return state, state.result(raise_on_failure=False)


def test_report_written_beside_the_manifest_and_too_much_quarantine_fails(prefect_stack, s3_conn, bucket):
    record = make_record(bucket, [shard(bucket, 0, 160, ok=3, flagged=157), shard(bucket, 160, 320, flagged=160)])
    old_marker = f"{record.output_dir}/_SUCCESS"  # left by an earlier run allowed more quarantine
    s3_conn.boto3_client().put_object(Bucket=bucket, Key=old_marker.split("/", 3)[3], Body=b"")

    state, error = finish(s3_conn, record, max_quarantined_share=0.5)

    assert state.is_failed() and "Failed: 3 rows kept, 317 quarantined, 0 failed" in str(error)
    assert f"{record.output_dir}/report.md" in state.message
    report = json.loads(read(s3_conn, f"{record.output_dir}/report.json"))
    assert report["status"] == "Failed" and report["succeeded"] is False and report["finished_at"]
    assert report["counts"]["rows_quarantined"] == 317 and report["problems"][0]["kind"] == "quarantine"
    markdown = read(s3_conn, f"{record.output_dir}/report.md").decode()
    assert markdown == latest_artifact(f"test-report-{record.run_key}").data  # the same report twice
    assert f"`{record.output_dir}/quarantine/`" in markdown  # the whole path, not cut off
    assert "## Too much quarantined" in markdown and "max_quarantined_share=50%" in markdown
    manifest = json.loads(read(s3_conn, f"{record.output_dir}/manifest.json"))
    assert list(manifest)[:3] == ["run_key", "flow", "status"] and list(manifest)[-1] == "config"
    assert manifest["flow"] == "test-finish-run" and manifest["flow_run"]["name"]
    assert read(s3_conn, old_marker) is None  # a Failed run leaves no _SUCCESS


def test_a_run_within_the_limit_completes_with_success_marker(prefect_stack, s3_conn, bucket):
    record = make_record(bucket, [shard(bucket, 0, 100, ok=90, flagged=10)])
    state, summary = finish(s3_conn, record, max_quarantined_share=0.5)
    assert state.is_completed(), summary
    assert summary["headline"] == "Completed: 90 rows kept, 10 quarantined, 0 failed"
    assert read(s3_conn, f"{record.output_dir}/_SUCCESS") == b""
    assert summary["timings"]["guard_share_of_shard_time"] == 0.25
    assert "guards | 0.2 s summed over the same shards: 25% of their shard time" in read(
        s3_conn, f"{record.output_dir}/report.md").decode()


def test_failed_object_is_fix_the_input_in_report_and_progress(prefect_stack, s3_conn, bucket):
    inputs = [{"uri": f"s3://{bucket}/in/corrupt.parquet", "rows": 0, "shards": 0, "error_kind": "input",
               "error": f"s3://{bucket}/in/corrupt.parquet: not a readable parquet file (bad footer)"}]
    record = make_record(bucket, [], inputs=inputs)
    state, error = finish(s3_conn, record)
    assert state.is_failed() and "(fix the input)" in str(error)
    markdown = read(s3_conn, f"{record.output_dir}/report.md").decode()
    assert "## Fix the input (a rerun meets the same bytes)" in markdown and "corrupt.parquet" in markdown
    assert "Rerun to finish" not in markdown


def test_empty_input_completes_with_nothing_to_do_or_fails_when_asked(prefect_stack, s3_conn, bucket):
    record = make_record(bucket, [], inputs=[])
    state, summary = finish(s3_conn, record)
    assert state.is_completed() and summary["headline"].startswith("Completed: nothing to do, no input objects")
    assert "Nothing to do" in read(s3_conn, f"{record.output_dir}/report.md").decode()
    assert read(s3_conn, f"{record.output_dir}/_SUCCESS") == b""

    record = make_record(bucket, [], inputs=[])
    state, error = finish(s3_conn, record, fail_on_empty_input=True)
    assert state.is_failed() and "nothing to do" in str(error)
    assert json.loads(read(s3_conn, f"{record.output_dir}/report.json"))["status"] == "Failed"
