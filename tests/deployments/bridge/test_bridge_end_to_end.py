"""S3 put -> SQS notification -> bridge -> Prefect event -> deployment trigger -> flow run ->
output in S3; the same object put again starts no second run.

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


def test_s3_put_starts_one_run_per_object_version(moto_endpoint, postgres_prefect, monkeypatch_module, stack_config):
    from deployments.bridge.emitter import PrefectEventsEmitter
    from deployments.bridge.service import run_bridge
    from deployments.bridge.sources import SqsSource
    from deployments.deploy_local import deploy_local

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

    with temporary_settings({PREFECT_API_URL: postgres_prefect.prefect_api_url}):
        deploy_local(triton_limit=4, worker=True, cfg=postgres_prefect)
        stop = threading.Event()
        bridge = threading.Thread(target=run_bridge, daemon=True, kwargs=dict(
            source=SqsSource(sqs, queue_url, wait_s=1), emitter=PrefectEventsEmitter(postgres_prefect.prefect_api_url),
            suffix=".parquet", idle_sleep_s=0.5, stop=stop))
        bridge.start()
        try:
            buffer = io.BytesIO()
            pq.write_table(pa.table({"id": [1, 2], "text": ["Guten Tag.", "Bonjour."]}), buffer)
            s3.put_object(Bucket="sentinel-demo", Key="inbox/a.parquet", Body=buffer.getvalue())
            s3.put_object(Bucket="sentinel-demo", Key="inbox/notes.txt", Body=b"not for us")

            runs = wait_for(lambda: [r for r in flow_runs("translate-batch/translate-on-upload") if r.state and r.state.is_final()],
                            240, "the triggered flow run to finish")
            assert [r.state_name for r in runs] == ["Completed"]
            assert runs[0].parameters["input_uri"] == "s3://sentinel-demo/inbox/a.parquet"
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="sentinel-demo", Prefix="outputs/inbox/")["Contents"]]
            assert any(k.endswith("/_SUCCESS") for k in keys)

            # the same bytes again (same ETag): the bridge emits the same event id, no second run
            s3.put_object(Bucket="sentinel-demo", Key="inbox/a.parquet", Body=buffer.getvalue())
            wait_for(lambda: int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
                "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]) == 0, 30, "queue drained")
            time.sleep(15)
            assert len(flow_runs("translate-batch/translate-on-upload")) == 1
        finally:
            stop.set()
            bridge.join(10)
