"""S3 puts -> SQS notifications -> bridge (one batch window) -> an input list + one Prefect event ->
deployment trigger -> ONE flow run over every object of the batch -> output in S3; the same bytes put
again start no run; new bytes start one run over that object alone.

Real servers: moto's server for S3 + SQS, a Prefect server on the local PostgreSQL, a process
worker, Triton and the `translate-on-upload` deployment from prefect.yaml.
"""
import io
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.integration
DB = "sentinel_bridge_test"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from deployments.stack.processes import http_ok, wait_until

    endpoint = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(endpoint + "/moto-api/", accept=(200, 404)), name="moto", timeout=30,
               state_dir=Path("/tmp"))
    yield endpoint
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def postgres_prefect(tmp_path_factory, triton_stack, monkeypatch_module):
    """A second Prefect server, on PostgreSQL, with its own state dir and port."""
    from deployments.stack import local_stack, prefect_server
    from deployments.stack.config import StackConfig

    for sql in (f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True)
    cfg = replace(StackConfig(), state_dir=tmp_path_factory.mktemp("pg-stack"), prefect_port=free_port())
    monkeypatch_module.setenv("SENTINEL_PREFECT_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}")
    prefect_server.start(cfg, timeout=180)
    yield cfg
    local_stack.stop(cfg, "prefect-worker")
    local_stack.stop(cfg, "prefect-server")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def flow_runs(deployment_name: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [deployment.id]}))


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def test_objects_uploaded_together_start_one_run(moto_endpoint, postgres_prefect, monkeypatch_module, stack_config):
    from deployments.bridge.batcher import Batcher, Window
    from deployments.bridge.emitter import PrefectEventsEmitter
    from deployments.bridge.service import run_bridge
    from deployments.bridge.sources import SqsSource
    from deployments.deploy_local import deploy_local
    from deployments.runs import list_runs
    from tasks.io.s3 import S3Connection

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_ENDPOINT_URL_S3": moto_endpoint, "AWS_ENDPOINT_URL": moto_endpoint,
                       "PREFECT_API_URL": postgres_prefect.prefect_api_url, "PREFECT_WORKER_QUERY_SECONDS": "2",
                       "SENTINEL_TRITON_URL": stack_config.triton_grpc_url}.items():
        monkeypatch_module.setenv(key, value)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="sentinel-demo")
    queue_url = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="sentinel-demo", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
    conn = S3Connection.from_env()

    def parquet(first_id: int, *texts: str) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(pa.table({"id": list(range(first_id, first_id + len(texts))), "text": list(texts)}), buffer)
        return buffer.getvalue()

    objects = {f"inbox/{name}.parquet": parquet(first, "Guten Tag.", "Bonjour.")
               for name, first in (("a", 0), ("b", 10), ("c", 20))}
    deployment = "translate-batch/translate-on-upload"

    def finished() -> list:
        return [r for r in flow_runs(deployment) if r.state and r.state.is_final()]

    def queue_drained() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return all(int(v) == 0 for v in attributes.values())

    with temporary_settings({PREFECT_API_URL: postgres_prefect.prefect_api_url}):
        deploy_local(triton_limit=4, worker=True, cfg=postgres_prefect)
        stop = threading.Event()
        source = SqsSource(sqs, queue_url, wait_s=1, visibility_s=60)
        batcher = Batcher(conn, PrefectEventsEmitter(postgres_prefect.prefect_api_url), source,
                          Window(seconds=5, objects=500), root="inbox/")
        bridge = threading.Thread(target=run_bridge, daemon=True, kwargs=dict(
            source=source, batcher=batcher, prefix="inbox/", suffix=".parquet", idle_sleep_s=0.5, stop=stop))
        bridge.start()
        try:
            for key, body in objects.items():
                s3.put_object(Bucket="sentinel-demo", Key=key, Body=body)
            s3.put_object(Bucket="sentinel-demo", Key="inbox/notes.txt", Body=b"not for us")
            s3.put_object(Bucket="sentinel-demo", Key="inbox/_temporary/0/part-0.parquet", Body=b"not yet")

            runs = wait_for(finished, 240, "the triggered flow run to finish")
            time.sleep(8)  # a second batch (a split window, a duplicate) would start a run by now
            runs = finished()
            assert [r.state_name for r in runs] == ["Completed"]
            [batch_list] = [r.parameters["input_uri"] for r in runs]
            assert batch_list.startswith("s3://sentinel-demo/_sentinel/bridge/inbox/batches/")
            assert batch_list.endswith(".inputs.json")
            [report] = list_runs(conn, "s3://sentinel-demo/outputs/inbox/")
            assert sorted(report["inputs"]) == sorted(f"s3://sentinel-demo/{key}" for key in objects)
            assert report["kept"] + report["quarantined"] == 6 and report["failed"] == 0
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="sentinel-demo", Prefix="outputs/inbox/")["Contents"]]
            assert sum(k.endswith("/_SUCCESS") for k in keys) == 1

            # the same bytes again (same ETags): the ledger has these versions, no batch, no run
            for key, body in objects.items():
                s3.put_object(Bucket="sentinel-demo", Key=key, Body=body)
            wait_for(queue_drained, 60, "queue drained")
            time.sleep(15)
            assert len(flow_runs(deployment)) == 1

            # new bytes in one object: one run over that object alone
            s3.put_object(Bucket="sentinel-demo", Key="inbox/b.parquet", Body=parquet(30, "Guten Tag.", "Bonjour."))
            wait_for(lambda: len(finished()) == 2, 240, "the second run to finish")
            second = next(r for r in finished() if r.parameters["input_uri"] != batch_list)
            assert second.state_name == "Completed"
            newest = list_runs(conn, "s3://sentinel-demo/outputs/inbox/")[0]
            assert newest["inputs"] == ["s3://sentinel-demo/inbox/b.parquet"] and newest["kept"] + newest[
                "quarantined"] == 2
        finally:
            stop.set()
            bridge.join(30)
