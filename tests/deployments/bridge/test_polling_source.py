"""The polling source on the real SeaweedFS: emits each object version once, and remembers
what it has seen durably in S3 (a restarted bridge repeats nothing and loses nothing)."""
import pytest

from deployments.bridge.service import pump_once
from deployments.bridge.sources import PollingSource

pytestmark = pytest.mark.integration


class RecordingEmitter:
    url = "memory://"

    def __init__(self, fail: bool = False):
        self.events, self.fail = [], fail

    def emit(self, events):
        from deployments.bridge.emitter import EmitFailed

        if self.fail and events:
            raise EmitFailed("server down")
        self.events += events


def test_restart_neither_repeats_nor_loses_events(s3_conn, bucket):
    client = s3_conn.boto3_client()
    watch, state = f"s3://{bucket}/poll-in/", f"s3://{bucket}/_bridge/state.json"
    client.put_object(Bucket=bucket, Key="poll-in/a.parquet", Body=b"1")
    client.put_object(Bucket=bucket, Key="poll-in/skip.txt", Body=b"1")

    down = RecordingEmitter(fail=True)  # not accepted -> not remembered
    assert pump_once(PollingSource(client, watch, state), down, suffix=".parquet") == 0

    first = RecordingEmitter()
    assert pump_once(PollingSource(client, watch, state), first, suffix=".parquet") == 1
    assert first.events[0]["resource"]["prefect.resource.id"] == f"s3://{bucket}/poll-in/a.parquet"

    restarted = RecordingEmitter()  # a new process: state comes back from S3
    client.put_object(Bucket=bucket, Key="poll-in/b.parquet", Body=b"2")
    client.put_object(Bucket=bucket, Key="poll-in/a.parquet", Body=b"changed")  # new ETag: a new version
    assert pump_once(PollingSource(client, watch, state), restarted, suffix=".parquet") == 2
    assert sorted(e["resource"]["s3.key"] for e in restarted.events) == ["poll-in/a.parquet", "poll-in/b.parquet"]
    assert pump_once(PollingSource(client, watch, state), RecordingEmitter(), suffix=".parquet") == 0
