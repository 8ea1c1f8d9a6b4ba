"""The polling source on the real SeaweedFS: batches each object version once, and remembers what it
has seen durably in S3 (a restarted bridge repeats nothing and loses nothing)."""
import json

import pytest

from deployments.bridge.batcher import Batcher, Window
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


def batched_keys(s3_conn, emitter) -> list[str]:
    from tasks.io.listing import read_small_object

    return sorted(o["uri"].split("/", 3)[3] for e in emitter.events
                  for o in json.loads(read_small_object(s3_conn, e["resource"]["prefect.resource.id"]))["objects"])


def test_restart_neither_repeats_nor_loses_objects(s3_conn, bucket):
    client = s3_conn.boto3_client()
    watch, state = f"s3://{bucket}/poll-in/", f"s3://{bucket}/_bridge/state.json"
    client.put_object(Bucket=bucket, Key="poll-in/a.parquet", Body=b"1")
    client.put_object(Bucket=bucket, Key="poll-in/skip.txt", Body=b"1")

    def bridge(emitter):  # a new process each time: its state and ledger come back from S3
        source = PollingSource(client, watch, state)
        return source, Batcher(s3_conn, emitter, source, Window(30, 500), root="poll-in/")

    down = RecordingEmitter(fail=True)  # not accepted -> not remembered as seen, the batch stays pending
    assert pump_once(*bridge(down), suffix=".parquet", flush_all=True) == 0

    first = RecordingEmitter()  # the pending batch is posted again, nothing new is batched
    assert pump_once(*bridge(first), suffix=".parquet", flush_all=True) == 1
    assert batched_keys(s3_conn, first) == ["poll-in/a.parquet"]
    assert first.events[0]["resource"]["sentinel.root"] == watch

    restarted = RecordingEmitter()
    client.put_object(Bucket=bucket, Key="poll-in/b.parquet", Body=b"2")
    client.put_object(Bucket=bucket, Key="poll-in/a.parquet", Body=b"changed")  # new ETag: a new version
    assert pump_once(*bridge(restarted), suffix=".parquet", flush_all=True) == 2
    assert len(restarted.events) == 1 and batched_keys(s3_conn, restarted) == ["poll-in/a.parquet", "poll-in/b.parquet"]
    assert pump_once(*bridge(RecordingEmitter()), suffix=".parquet", flush_all=True) == 0
