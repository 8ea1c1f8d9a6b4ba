"""prefect.yaml on the real Prefect server: pools, deployments, schedules, UI forms, a
`prefect deployment run` executed by a real process worker, and fan-out of translate-batch and
transcribe-batch to child runs of the one `shard-group` flow on the local process pool."""
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from deployments.demo_data import upload_table
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration
PREFECT = str(Path(sys.executable).parent / "prefect")
SHARD_GROUP_LOCAL = "shard-group/shard-group-local"


@pytest.fixture(scope="module")
def deployed(full_stack):
    from deployments.deploy_local import WORKER, deploy_local
    from deployments.stack import local_stack
    from deployments.stack.processes import read_pid

    had_worker = read_pid(full_stack.state_dir, WORKER) is not None
    deploy_local(triton_limit=4, worker=True)
    yield full_stack
    if not had_worker:
        local_stack.stop(full_stack, WORKER)


def part_versions(conn, bucket: str, prefix: str) -> dict:
    listing = conn.boto3_client().list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["LastModified"] for o in listing if "/part-" in o["Key"]}


def read_deployment(name: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(name)


def test_parameter_schema_renders_a_form(deployed):
    schema = read_deployment("translate-batch/translate-batch").parameter_openapi_schema
    props = schema["properties"]
    assert {"input_uri", "output_uri", "target_lang", "source_lang", "model", "shard_rows"} <= set(props)
    assert "de" in props["target_lang"]["enum"] and props["model"]["enum"] == ["translate", "echo"]
    assert set(schema["required"]) == {"input_uri", "output_uri"}


def test_scheduler_creates_the_nightly_runs(deployed):
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter

    deployment = read_deployment("translate-batch/translate-nightly")
    deadline = time.monotonic() + 90  # the scheduler service runs on a loop (10 s on the local stack)
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [deployment.id]}))
        if any(r.state_name == "Scheduled" for r in runs):
            break
        time.sleep(2)
    assert any(r.state_name == "Scheduled" and r.expected_start_time.hour == 2 for r in runs)


def test_deployment_run_completes_on_a_process_worker(deployed, s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "deploy-run/in.parquet"),
                 pa.table({"id": ["a", "b"], "text": ["Guten Morgen.", "Gute Nacht."]}))
    done = subprocess.run(
        [PREFECT, "deployment", "run", "translate-batch/translate-batch", "--watch", "--watch-timeout", "240",
         "--param", f"input_uri=s3://{bucket}/deploy-run/", "--param", f"output_uri=s3://{bucket}/deploy-out/",
         "--param", "model=echo", "--param", "source_lang=de"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Completed" in done.stdout
    keys = [o["Key"] for o in s3_conn.boto3_client().list_objects_v2(Bucket=bucket, Prefix="deploy-out/")["Contents"]]
    assert any(k.endswith("/_SUCCESS") for k in keys)


def test_fan_out_to_child_runs_on_the_process_pool(deployed, s3_conn, bucket):
    from flows.translate_batch import translate_batch

    for n in range(3):
        rows = {"id": [f"{n}-{i}" for i in range(30)], "text": [f"Satz Nummer {i}." for i in range(30)]}
        upload_table(s3_conn, S3Uri(bucket, f"fan-in/part-{n}.parquet"), pa.table(rows), row_group_size=15)
    state = translate_batch(input_uri=f"s3://{bucket}/fan-in/", output_uri=f"s3://{bucket}/fan-out/", model="echo",
                            source_lang="de", shard_rows=15,
                            fan_out_deployment=SHARD_GROUP_LOCAL,
                            shards_per_child=3, return_state=True)
    summary = state.result(raise_on_failure=False)
    assert state.is_completed(), summary
    assert len(summary["shards"]) == 6 and summary["rows"] == 90 and summary["status_counts"] == {"ok": 90}
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter

    child = read_deployment(SHARD_GROUP_LOCAL)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [child.id]}))
    assert sum(r.state_name == "Completed" and r.parent_task_run_id is not None for r in runs) >= 2


def test_transcribe_batch_fans_out_to_the_same_shard_group_flow(deployed, s3_conn, bucket):
    """The child rebuilds the transcribe stage from its dict: same parts, same run key as in-process."""
    from deployments.demo_speech import bytes_table
    from flows.transcribe_batch import transcribe_batch

    table = bytes_table()
    table = table.filter(pc.is_in(table.column("id"), value_set=pa.array(["fox", "silence", "stereo", "noise"])))
    upload_table(s3_conn, S3Uri(bucket, "fan-asr-in/clips.parquet"), table, row_group_size=1)
    common = {"input_uri": f"s3://{bucket}/fan-asr-in/", "output_uri": f"s3://{bucket}/fan-asr-out/", "shard_rows": 1,
              "max_audio_s": 30.0}
    state = transcribe_batch(**common, fan_out_deployment=SHARD_GROUP_LOCAL, shards_per_child=2, return_state=True)
    summary = state.result(raise_on_failure=False)
    assert state.is_completed(), summary
    assert len(summary["shards"]) == 4 and summary["rows"] == 4
    parts = part_versions(s3_conn, bucket, "fan-asr-out/")
    assert len([k for k in parts if "/quarantine/" not in k]) == 4
    again = transcribe_batch(**common, return_state=True).result(raise_on_failure=False)  # in-process rerun
    assert again["run_key"] == summary["run_key"] and part_versions(s3_conn, bucket, "fan-asr-out/") == parts


def test_zombie_flow_runs_are_crashed_by_an_automation(deployed):
    """A flow-run process killed unseen stops heartbeating; the automation marks the run Crashed."""
    from prefect.automations import Automation

    from deployments.deploy_local import ZOMBIE_AUTOMATION

    automation = Automation.read(name=ZOMBIE_AUTOMATION)
    assert automation.enabled and automation.trigger.posture == "Proactive"
    assert automation.trigger.after == {"prefect.flow-run.heartbeat"}
    assert automation.actions[0].type == "change-flow-run-state" and automation.actions[0].state == "CRASHED"
