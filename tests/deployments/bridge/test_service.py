"""The bridge's log names every object it skips or ignores, says what it watches, and stops
cleanly on SIGTERM (real SeaweedFS; the stop test also posts to the real Prefect events API)."""
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from deployments.bridge.service import pump_once
from deployments.bridge.sources import PollingSource

pytestmark = pytest.mark.integration


class RecordingEmitter:
    url = "memory://"

    def __init__(self):
        self.events = []

    def emit(self, events):
        self.events += events


def test_ignored_and_reuploaded_objects_are_logged_by_name(s3_conn, bucket, caplog):
    client = s3_conn.boto3_client()
    watch, state = f"s3://{bucket}/logged-in/", f"s3://{bucket}/_bridge/logged.json"
    client.put_object(Bucket=bucket, Key="logged-in/a.parquet", Body=b"1")
    client.put_object(Bucket=bucket, Key="logged-in/notes.txt", Body=b"1")
    caplog.set_level(logging.INFO, logger="sentinel.bridge")

    assert pump_once(PollingSource(client, watch, state), RecordingEmitter(), suffix=".parquet") == 1
    assert f"emitted s3.object.created s3://{bucket}/logged-in/a.parquet" in caplog.text
    assert (f"ignored s3://{bucket}/logged-in/notes.txt: not in s3://{bucket}/logged-in/, keys ending '.parquet'"
            in caplog.text)

    caplog.clear()
    time.sleep(1.1)  # LastModified has a resolution of one second
    client.put_object(Bucket=bucket, Key="logged-in/a.parquet", Body=b"1")  # the same bytes again
    restarted = PollingSource(client, watch, state)  # also across a restart: the state remembers the version
    assert pump_once(restarted, RecordingEmitter(), suffix=".parquet") == 0
    assert f"skipped s3://{bucket}/logged-in/a.parquet: uploaded again with the same bytes" in caplog.text
    caplog.clear()
    assert pump_once(restarted, RecordingEmitter(), suffix=".parquet") == 0
    assert "skipped" not in caplog.text  # said once, not every round


def test_sigterm_stops_the_bridge_with_a_stopped_line(prefect_stack, s3_conn, bucket):
    watch, state = f"s3://{bucket}/sig-in/", f"s3://{bucket}/_bridge/sig.json"
    proc = subprocess.Popen([sys.executable, "-m", "deployments.cli", "bridge", "--source", "poll", "--watch", watch,
                             "--state", state, "--interval", "0.5"], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "bridge started" in line:
                break
        assert f"bridge started: {watch}, keys ending '.parquet'" in "".join(lines)
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "bridge stopped (SIGTERM)" in rest
