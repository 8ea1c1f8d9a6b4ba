"""A burst of S3 events: N objects put at once (default 200) -> SQS notifications -> the bridge ->
Prefect events -> the deployment's trigger -> N flow runs on a process worker, all Completed, on the
private Prefect server (PostgreSQL). moto's server plays S3 + SQS; Triton is the private one."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest

from deployments.stack.processes import stop_group
from tests.reliability.bad_corpus import good_table
from tests.reliability.chaos import parquet_bytes, wait_for
from tests.reliability.prefect_api import PrefectApi
from tests.reliability.private_stack import REPO_ROOT

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.timeout(3600)]

BURST = int(os.environ.get("SENTINEL_CHAOS_BURST", "200"))
WORKER_LIMIT = int(os.environ.get("SENTINEL_CHAOS_BURST_WORKERS", "3"))
POOL, BUCKET = "chaos-process", "chaos-burst"
DEPLOYMENT_YAML = """\
name: sentinel-chaos
prefect-version: 3.8.8
build: null
push: null
pull:
  - prefect.deployments.steps.set_working_directory:
      directory: "{repo}"
deployments:
  - name: chaos-burst
    entrypoint: flows/translate_batch.py:translate_batch
    work_pool: {{name: {pool}}}
    triggers:
      - type: event
        enabled: true
        expect: ["s3.object.created"]
        match: {{prefect.resource.id: "s3://{bucket}/{inbox}*.parquet", s3.key: "!*/[_.]*"}}
        parameters: {{input_uri: "{{{{ event.resource.id }}}}"}}
    parameters:
      input_uri: s3://{bucket}/{inbox}
      output_uri: s3://{bucket}/outputs/{inbox}
      model: echo
      source_lang: de
      triton_endpoint: ""
      s3_credentials: ""
{extra}"""
# The burst measures event -> run orchestration; the Great Expectations suites cost ~10 s of CPU per
# flow-run process (measured separately, see docs/reliability.md): off unless SENTINEL_CHAOS_BURST_QUALITY=1.
QUALITY = os.environ.get("SENTINEL_CHAOS_BURST_QUALITY") == "1"


def extra_parameters() -> str:
    has_switch = "data_quality:" in (REPO_ROOT / "flows" / "translate_batch.py").read_text()
    return "" if QUALITY or not has_switch else "      data_quality: false\n"


def scenario_name() -> str:
    """`event_burst` for the spec's 200 events with default settings; other sizes keep their own entry."""
    return "event_burst" + ("" if BURST == 200 else f"_{BURST}") + ("_quality_on" if QUALITY else "")



def test_burst_of_s3_events(chaos_stack, chaos_results, moto_endpoint, scenario_prefix, tmp_path):
    api = PrefectApi(chaos_stack.cfg.prefect_api_url)
    inbox = f"inbox/{scenario_prefix}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName=f"s3-events-{scenario_prefix.strip('/')}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})

    env = chaos_stack.env(AWS_ENDPOINT_URL_S3=moto_endpoint, AWS_ENDPOINT_URL=moto_endpoint,
                          AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                          PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_LOGGING_LEVEL="WARNING")
    prefect = str(Path(sys.executable).parent / "prefect")
    spec = tmp_path / "prefect.yaml"
    spec.write_text(DEPLOYMENT_YAML.format(repo=REPO_ROOT, pool=POOL, bucket=BUCKET, inbox=inbox,
                                          extra=extra_parameters()))
    subprocess.run([prefect, "work-pool", "create", POOL, "--type", "process", "--overwrite"],
                   env=env, cwd=REPO_ROOT, check=True, capture_output=True)
    subprocess.run([prefect, "--no-prompt", "deploy", "--all", "--prefect-file", str(spec)],
                   env=env, cwd=REPO_ROOT, check=True, capture_output=True)
    deployment = api.deployment("translate-batch", "chaos-burst")
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([prefect, "worker", "start", "--pool", POOL, "--type", "process",
                               "--limit", str(WORKER_LIMIT)], env=env, cwd=REPO_ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    log.close()

    from deployments.bridge.emitter import PrefectEventsEmitter
    from deployments.bridge.service import run_bridge
    from deployments.bridge.sources import SqsSource

    stop = threading.Event()
    bridge = threading.Thread(target=run_bridge, daemon=True, kwargs=dict(
        source=SqsSource(sqs, queue_url, wait_s=1), emitter=PrefectEventsEmitter(chaos_stack.cfg.prefect_api_url),
        suffix=".parquet", idle_sleep_s=0.5, stop=stop))
    bridge.start()
    timeline: dict[str, float] = {}
    try:
        started = time.monotonic()
        for n in range(BURST):
            table, _ = good_table(f"burst{n:03d}", 3)
            s3.put_object(Bucket=BUCKET, Key=f"{inbox}obj-{n:03d}.parquet", Body=parquet_bytes(table))
        timeline["puts_s"] = time.monotonic() - started

        def runs() -> list[dict]:
            return api.flow_runs(deployment["id"])

        wait_for(lambda: len(runs()) >= BURST, 600, f"{BURST} flow runs created", every=2)
        timeline["all_runs_created_s"] = time.monotonic() - started
        final_types = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
        def all_final() -> list[dict] | None:
            listed = runs()
            return listed if all(r["state"]["type"] in final_types for r in listed) else None

        final = wait_for(all_final, 3000, "every run in a final state", every=5)
        timeline["all_runs_final_s"] = time.monotonic() - started
        time.sleep(5)  # a duplicate event would start a run late: give it a chance to show up
        final = runs()
    finally:
        stop.set()
        bridge.join(15)
        worker_stop = stop_group(worker.pid, timeout=30.0)  # Prefect's worker may need a 2nd SIGTERM
        worker.wait(10)

    states = Counter(r["state"]["name"] for r in final)
    inputs = Counter(r["parameters"].get("input_uri") for r in final)
    outputs = {k["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=f"outputs/{inbox}") for k in page.get("Contents", [])}
    successes = sum(1 for key in outputs if key.endswith("/_SUCCESS"))
    durations = sorted(r["total_run_time"] for r in final if r.get("total_run_time"))
    completed = states.get("Completed", 0)
    chaos_results.record(
        scenario_name(), title=f"Burst of {BURST} S3 events" + (" (data-quality suites on)" if QUALITY else ""),
        outcome="survived" if completed == BURST else "lost",
        events=BURST, flow_runs=len(final), completed=completed, states=dict(states),
        distinct_inputs=len(inputs), duplicate_runs=sum(c - 1 for c in inputs.values()), success_markers=successes,
        prefect_database=chaos_stack.database, worker_limit=WORKER_LIMIT, data_quality_suites=QUALITY,
        puts_s=round(timeline["puts_s"], 1), all_runs_created_s=round(timeline["all_runs_created_s"], 1),
        all_runs_completed_s=round(timeline["all_runs_final_s"], 1),
        runs_per_minute=round(60 * BURST / timeline["all_runs_final_s"], 1),
        run_time_p50_s=round(durations[len(durations) // 2], 1) if durations else None,
        run_time_max_s=round(durations[-1], 1) if durations else None, worker_stopped_by=worker_stop)
    assert chaos_stack.database == "postgresql"
    assert len(final) == BURST and completed == BURST, states
    assert len(inputs) == BURST and successes == BURST
