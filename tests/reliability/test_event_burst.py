"""A burst of S3 uploads: N objects put at once (default 1,000) -> SQS notifications -> the bridge,
which batches them (window 30 s / 500 objects: one input list and one Prefect event per batch) -> the
deployment's trigger -> one flow run per batch on a process worker, on the private Prefect server
(PostgreSQL). Every object is read by exactly one run and every row id is in the outputs exactly once,
in at most 20 runs; objects per minute are set against the one-run-per-event figure measured before
batching (200 events, one run each). moto's server plays S3 + SQS; Triton is the private one."""
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
from tests.reliability.chaos import Accounting, account, list_keys, parquet_bytes, read_json, run_dirs_under, wait_for
from tests.reliability.prefect_api import PrefectApi
from tests.reliability.private_stack import REPO_ROOT

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.timeout(3600)]

BURST = int(os.environ.get("SENTINEL_CHAOS_BURST", "1000"))
BATCH_SECONDS = float(os.environ.get("SENTINEL_CHAOS_BURST_BATCH_SECONDS", "30"))
BATCH_OBJECTS = int(os.environ.get("SENTINEL_CHAOS_BURST_BATCH_OBJECTS", "500"))
MAX_RUNS = 20
# Before the bridge batched (one s3.object.created event and one run per object): the 200-event burst of
# 2026-12-02 on this machine (2 shared cores, 3 concurrent runs, data-quality suites off).
PER_EVENT_BASELINE = {"events": 200, "flow_runs": 200, "all_runs_completed_s": 999.3, "objects_per_minute": 12.0,
                      "measured_at": "2026-12-02T03:32:23+00:00"}
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
        expect: ["sentinel.input-list.created"]
        match: {{sentinel.root: "s3://{bucket}/{inbox}"}}
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
    """`event_burst` for the spec's 1,000 uploads with the default window; other settings keep their own
    entry (the entries of before batching end in `_per_event`)."""
    window = "" if (BATCH_SECONDS, BATCH_OBJECTS) == (30, 500) else f"_w{BATCH_SECONDS:g}s{BATCH_OBJECTS}"
    return "event_burst" + ("" if BURST == 1000 else f"_{BURST}") + window + ("_quality_on" if QUALITY else "")


class RecordingEmitter:
    """The bridge's emitter, keeping the events Prefect accepted (one per batch)."""

    def __init__(self, api_url: str):
        from deployments.bridge.emitter import PrefectEventsEmitter

        self.inner, self.url, self.events = PrefectEventsEmitter(api_url), api_url, []

    def emit(self, events: list[dict]) -> None:
        self.inner.emit(events)
        self.events += events


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

    from deployments.bridge.batcher import Batcher, Window
    from deployments.bridge.service import run_bridge
    from deployments.bridge.sources import SqsSource
    from tasks.io.s3 import S3Connection

    conn = S3Connection(endpoint_url=moto_endpoint, access_key="testing", secret_key="testing", region="us-east-1")
    emitter = RecordingEmitter(chaos_stack.cfg.prefect_api_url)
    source = SqsSource(sqs, queue_url, wait_s=1, visibility_s=int(BATCH_SECONDS) + 300)
    batcher = Batcher(conn, emitter, source, Window(BATCH_SECONDS, BATCH_OBJECTS), root=inbox)
    stop = threading.Event()
    bridge = threading.Thread(target=run_bridge, daemon=True, kwargs=dict(
        source=source, batcher=batcher, prefix=inbox, suffix=".parquet", idle_sleep_s=0.5, stop=stop))
    bridge.start()
    timeline: dict[str, float] = {}
    expected_ids: set[str] = set()
    batches_under = f"s3://{BUCKET}/_sentinel/bridge/{inbox}"
    expected_objects = {f"s3://{BUCKET}/{inbox}obj-{n:04d}.parquet" for n in range(BURST)}
    try:
        started = time.monotonic()
        for n in range(BURST):
            table, ids = good_table(f"burst{n:04d}", 3)
            expected_ids.update(ids)
            s3.put_object(Bucket=BUCKET, Key=f"{inbox}obj-{n:04d}.parquet", Body=parquet_bytes(table))
        timeline["puts_s"] = time.monotonic() - started

        def batched() -> int:
            return sum(e["payload"]["objects"] for e in emitter.events)

        wait_for(lambda: batched() >= BURST, 600, f"{BURST} objects batched", every=1)
        timeline["all_batched_s"] = time.monotonic() - started

        def runs() -> list[dict]:  # this scenario's (a kept private stack holds earlier sessions' runs too)
            return [r for r in api.flow_runs(deployment["id"])
                    if str(r["parameters"].get("input_uri", "")).startswith(batches_under)]

        wait_for(lambda: len(runs()) >= len(emitter.events), 600, "a flow run per batch", every=2)
        timeline["all_runs_created_s"] = time.monotonic() - started
        final_types = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

        def all_final() -> list[dict] | None:
            listed = runs()
            return listed if all(r["state"]["type"] in final_types for r in listed) else None

        final = wait_for(all_final, 3000, "every run in a final state", every=5)
        timeline["all_runs_final_s"] = time.monotonic() - started
        time.sleep(10)  # a duplicate event would start a run late: give it a chance to show up
        final = runs()
    finally:
        stop.set()
        bridge.join(30)
        worker_stop = stop_group(worker.pid, timeout=30.0)  # Prefect's worker may need a 2nd SIGTERM
        worker.wait(10)

    states = Counter(r["state"]["name"] for r in final)
    lists = Counter(r["parameters"].get("input_uri") for r in final)
    run_dirs = run_dirs_under(s3, f"s3://{BUCKET}/outputs/{inbox}")
    objects_read, ids = Counter(), Counter()
    for run_dir in run_dirs:
        objects_read.update(i["uri"] for i in read_json(s3, f"{run_dir}/report.json").get("inputs", []))
        ids.update(account(s3, run_dir).ids)
    id_check = Accounting(ids, Counter(), 0, 0, []).check(expected_ids)
    successes = sum(1 for key in list_keys(s3, BUCKET, f"outputs/{inbox}") if key.endswith("/_SUCCESS"))
    durations = sorted(r["total_run_time"] for r in final if r.get("total_run_time"))
    completed = states.get("Completed", 0)
    objects_once = sum(1 for uri in expected_objects if objects_read.get(uri) == 1)
    per_minute = round(60 * BURST / timeline["all_runs_final_s"], 1)
    held = (completed == len(final) and objects_once == BURST and id_check["found_once"] == len(expected_ids)
            and id_check["duplicated"] == 0 and len(final) <= MAX_RUNS)
    chaos_results.record(
        scenario_name(), outcome="survived" if held else "lost",
        title=f"Burst of {BURST:,} S3 uploads, batched ({Window(BATCH_SECONDS, BATCH_OBJECTS)})"
              + (" (data-quality suites on)" if QUALITY else ""),
        events=BURST, batch_seconds=BATCH_SECONDS, batch_objects=BATCH_OBJECTS, batches=len(emitter.events),
        batch_sizes=[e["payload"]["objects"] for e in emitter.events], flow_runs=len(final), completed=completed,
        states=dict(states), distinct_inputs=len(lists), duplicate_runs=sum(c - 1 for c in lists.values()),
        objects_read_once=objects_once, objects_lost=sum(1 for uri in expected_objects if uri not in objects_read),
        objects_read_twice=sum(1 for c in objects_read.values() if c > 1), success_markers=successes,
        **{f"ids_{k}": v for k, v in id_check.items() if k in ("expected", "found_once", "lost", "duplicated")},
        prefect_database=chaos_stack.database, worker_limit=WORKER_LIMIT, data_quality_suites=QUALITY,
        puts_s=round(timeline["puts_s"], 1), all_batched_s=round(timeline["all_batched_s"], 1),
        all_runs_created_s=round(timeline["all_runs_created_s"], 1),
        all_runs_completed_s=round(timeline["all_runs_final_s"], 1), objects_per_minute=per_minute,
        per_event_baseline=PER_EVENT_BASELINE,
        speedup_vs_per_event=round(per_minute / PER_EVENT_BASELINE["objects_per_minute"], 1),
        run_time_p50_s=round(durations[len(durations) // 2], 1) if durations else None,
        run_time_max_s=round(durations[-1], 1) if durations else None, worker_stopped_by=worker_stop)
    assert chaos_stack.database == "postgresql"
    assert completed == len(final) and successes == len(final), states
    assert len(final) <= MAX_RUNS and len(lists) == len(final) == len(emitter.events), (len(final), lists)
    assert objects_once == BURST, f"{BURST - objects_once} objects not read exactly once"
    assert id_check["found_once"] == len(expected_ids) and id_check["duplicated"] == 0, id_check
