"""The bridge's log names every object it batches, skips or ignores, says what it watches and its
window, and on SIGTERM posts the open window's batch before it stops (real SeaweedFS; the stop test
also posts to the real Prefect events API)."""
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from deployments.bridge.batcher import Batcher, Window
from deployments.bridge.service import pump_once
from deployments.bridge.sources import PollingSource

pytestmark = pytest.mark.integration


class RecordingEmitter:
    url = "memory://"

    def __init__(self):
        self.events = []

    def emit(self, events):
        self.events += events


def bridge(s3_conn, watch: str, state: str):
    source = PollingSource(s3_conn.boto3_client(), watch, state)
    return source, Batcher(s3_conn, RecordingEmitter(), source, Window(30, 500), root="logged-in/")


def test_ignored_and_reuploaded_objects_are_logged_by_name(s3_conn, bucket, caplog):
    client = s3_conn.boto3_client()
    watch, state = f"s3://{bucket}/logged-in/", f"s3://{bucket}/_bridge/logged.json"
    client.put_object(Bucket=bucket, Key="logged-in/a.parquet", Body=b"1")
    client.put_object(Bucket=bucket, Key="logged-in/notes.txt", Body=b"1")
    client.put_object(Bucket=bucket, Key="logged-in/_temporary/0/part-0.parquet", Body=b"1")
    caplog.set_level(logging.INFO, logger="sentinel.bridge")

    assert pump_once(*bridge(s3_conn, watch, state), suffix=".parquet", flush_all=True) == 1
    batch = f"s3://{bucket}/_sentinel/bridge/logged-in/batches/"
    assert f"batched s3://{bucket}/logged-in/a.parquet etag=" in caplog.text and f" in {batch}" in caplog.text
    assert f"emitted sentinel.input-list.created {batch}" in caplog.text
    assert f".inputs.json: 1 objects under s3://{bucket}/logged-in/" in caplog.text
    assert (f"ignored s3://{bucket}/logged-in/notes.txt: not in s3://{bucket}/logged-in/, keys ending '.parquet'"
            in caplog.text)
    assert (f"ignored s3://{bucket}/logged-in/_temporary/0/part-0.parquet: inside hidden folder '_temporary/'"
            in caplog.text)

    caplog.clear()
    time.sleep(1.1)  # LastModified has a resolution of one second
    client.put_object(Bucket=bucket, Key="logged-in/a.parquet", Body=b"1")  # the same bytes again
    restarted = bridge(s3_conn, watch, state)  # also across a restart: the state remembers the version
    assert pump_once(*restarted, suffix=".parquet", flush_all=True) == 0
    assert f"skipped s3://{bucket}/logged-in/a.parquet: uploaded again with the same bytes" in caplog.text
    caplog.clear()
    assert pump_once(*restarted, suffix=".parquet", flush_all=True) == 0
    assert "skipped" not in caplog.text  # said once, not every round


def test_sigterm_posts_the_open_window_then_stops(prefect_stack, s3_conn, bucket):
    """A window of an hour is open when SIGTERM comes: its objects are batched and posted (and the
    polling state saved: acknowledged) before the bridge says it stopped."""
    watch, state = f"s3://{bucket}/sig-in/", f"s3://{bucket}/_bridge/sig.json"
    client = s3_conn.boto3_client()
    for name in ("a", "b"):
        client.put_object(Bucket=bucket, Key=f"sig-in/{name}.parquet", Body=name.encode())
    proc = subprocess.Popen([sys.executable, "-m", "deployments.cli", "bridge", "--source", "poll", "--watch", watch,
                             "--state", state, "--interval", "0.5", "--batch-seconds", "3600"],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "batch window opened" in line:
                break
        assert f"bridge started: {watch}, keys ending '.parquet' -> " in "".join(lines)
        assert "one batch per 3600 s or 500 objects" in "".join(lines)
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert "stopping: flushing 2 objects in the open window" in rest
    assert f"emitted sentinel.input-list.created s3://{bucket}/_sentinel/bridge/sig-in/batches/" in rest
    assert rest.index("emitted sentinel.input-list.created") < rest.index("bridge stopped (SIGTERM)")
    import json

    seen = json.loads(client.get_object(Bucket=bucket, Key="_bridge/sig.json")["Body"].read())["seen"]
    assert sorted(seen) == ["sig-in/a.parquet", "sig-in/b.parquet"]
