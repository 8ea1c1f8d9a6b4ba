"""The batching rules: a window closes by time (from its first object) or by count; each object version
lands in exactly one batch (a repeated notification, the same bytes again, a restart mid-window, a
crash between posting and acknowledging, a crash between recording and posting); a notification is
acknowledged only after the batch holding its objects was accepted.

Lists and the ledger are written to the real SeaweedFS; the queue is an in-memory stand-in with SQS's
rules (a received message stays in flight until deleted; a restarted consumer gets the unacknowledged
ones again), the clock is a variable and the emitter records what it is given.
"""
from __future__ import annotations

import json
import logging
import uuid

import pytest

from deployments.bridge.batcher import Batcher, Window
from deployments.bridge.batches import EVENT_NAME, digest, event_id
from deployments.bridge.emitter import EmitFailed
from deployments.bridge.events import ObjectCreated
from deployments.bridge.service import pump_once
from deployments.bridge.sources import Batch

pytestmark = pytest.mark.integration


class Queue:
    watching = "test queue"

    def __init__(self) -> None:
        self.visible: list[tuple[int, list[ObjectCreated]]] = []
        self.in_flight: dict[int, list[ObjectCreated]] = {}
        self.acked: list[int] = []
        self.sent = 0

    def send(self, *objects: ObjectCreated) -> int:
        self.sent += 1
        self.visible.append((self.sent, list(objects)))
        return self.sent

    def receive(self, max_wait_s=None) -> list[Batch]:
        got, self.visible = self.visible, []
        self.in_flight.update(got)
        return [Batch(objects, message) for message, objects in got]

    def ack_all(self, batches: list[Batch]) -> None:
        for batch in batches:
            self.in_flight.pop(batch.ack_token, None)
            self.acked.append(batch.ack_token)

    def restart(self) -> None:
        """The consumer died: what it had not acknowledged becomes visible again."""
        self.visible += sorted(self.in_flight.items())
        self.in_flight = {}


class Killed(Exception):
    pass


class DiesOnAck(Queue):
    def ack_all(self, batches):
        raise Killed("the bridge died after posting, before acknowledging")


class Emitter:
    url = "memory://"

    def __init__(self, fail: bool = False) -> None:
        self.events: list[dict] = []
        self.fail = fail

    def emit(self, events: list[dict]) -> None:
        if self.fail:
            raise EmitFailed("Prefect events API memory:// did not accept 1 events: down")
        self.events += events


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def root() -> str:
    return f"batch-in-{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def make(s3_conn, root):
    def make(queue, emitter=None, seconds=30.0, objects=500, clock=None):
        return Batcher(s3_conn, emitter or Emitter(), queue, Window(seconds, objects), root=root,
                       clock=clock or Clock())
    return make


def obj(bucket: str, root: str, n: int, etag: str = "etag-1") -> ObjectCreated:
    return ObjectCreated(bucket, f"{root}obj-{n:03d}.parquet", 100 + n, etag, "2026-12-06T10:00:00Z")


def listed(s3_conn, list_uri: str) -> list[tuple[str, str]]:
    from tasks.io.listing import read_small_object

    doc = json.loads(read_small_object(s3_conn, list_uri))
    return [(o["uri"], o["etag"]) for o in doc["objects"]]


def batched_versions(s3_conn, emitter: Emitter) -> list[tuple[str, str]]:
    return [v for e in emitter.events for v in listed(s3_conn, e["resource"]["prefect.resource.id"])]


def test_a_window_closes_by_count(s3_conn, bucket, root, make):
    queue, emitter, clock = Queue(), Emitter(), Clock()
    batcher = make(queue, emitter, objects=4, clock=clock)
    for n in range(10):
        queue.send(obj(bucket, root, n))
    assert pump_once(queue, batcher) == 8  # two full batches at once, without waiting for the clock
    assert [e["payload"]["objects"] for e in emitter.events] == [4, 4]
    assert sorted(queue.acked) == list(range(1, 9)) and sorted(queue.in_flight) == [9, 10]
    assert batcher.time_left() == 30.0

    clock.now += 29.9
    assert pump_once(queue, batcher) == 0
    clock.now += 0.1
    assert pump_once(queue, batcher) == 2
    versions = batched_versions(s3_conn, emitter)
    assert sorted(versions) == sorted((obj(bucket, root, n).uri, "etag-1") for n in range(10))
    assert len(set(versions)) == 10 and sorted(queue.acked) == list(range(1, 11))
    event = emitter.events[0]
    assert event["event"] == EVENT_NAME == "sentinel.input-list.created"
    assert event["resource"]["sentinel.root"] == f"s3://{bucket}/{root}"
    assert event["resource"]["prefect.resource.id"].startswith(f"s3://{bucket}/_sentinel/bridge/{root}batches/")
    assert event["resource"]["prefect.resource.id"].endswith(".inputs.json")


def test_a_window_closes_by_time_counted_from_its_first_object(s3_conn, bucket, root, make):
    queue, emitter, clock = Queue(), Emitter(), Clock()
    batcher = make(queue, emitter, seconds=30, clock=clock)
    queue.send(obj(bucket, root, 1))
    assert pump_once(queue, batcher) == 0
    clock.now += 20
    queue.send(obj(bucket, root, 2), obj(bucket, root, 3))  # arriving later does not extend the window
    assert pump_once(queue, batcher) == 0 and batcher.time_left() == 10
    clock.now += 9.9
    assert pump_once(queue, batcher) == 0 and emitter.events == [] and queue.acked == []
    clock.now += 0.1
    assert pump_once(queue, batcher) == 3 and len(emitter.events) == 1 and sorted(queue.acked) == [1, 2]
    assert batcher.time_left() is None

    clock.now += 1
    queue.send(obj(bucket, root, 4))  # the next object opens the next window
    assert pump_once(queue, batcher) == 0 and batcher.time_left() == 30


def test_one_object_per_batch_gives_one_run_per_object(s3_conn, bucket, root, make):
    queue, emitter = Queue(), Emitter()
    for n in range(3):
        queue.send(obj(bucket, root, n))
    assert pump_once(queue, make(queue, emitter, objects=1)) == 3
    assert [len(listed(s3_conn, e["resource"]["prefect.resource.id"])) for e in emitter.events] == [1, 1, 1]


def test_repeated_notifications_and_the_same_bytes_again_are_batched_once(s3_conn, bucket, root, make, caplog):
    queue, emitter, clock = Queue(), Emitter(), Clock()
    batcher = make(queue, emitter, clock=clock)
    a = obj(bucket, root, 1)
    queue.send(a)
    queue.send(a)  # SQS delivered it twice, within the window
    pump_once(queue, batcher)
    clock.now += 30
    assert pump_once(queue, batcher) == 1 and sorted(queue.acked) == [1, 2]

    caplog.set_level(logging.INFO, logger="sentinel.bridge")
    queue.send(a)  # the same bytes uploaded again (same ETag), or a late duplicate
    assert pump_once(queue, batcher) == 0
    assert 3 in queue.acked and batcher.time_left() is None and len(emitter.events) == 1
    first_list = emitter.events[0]["resource"]["prefect.resource.id"]
    assert f"skipped {a.uri} etag=etag-1: this version is already in batch {first_list}" in caplog.text

    queue.send(obj(bucket, root, 1, etag="etag-2"))  # new bytes: new work
    pump_once(queue, batcher)
    clock.now += 30
    assert pump_once(queue, batcher) == 1
    assert listed(s3_conn, emitter.events[1]["resource"]["prefect.resource.id"]) == [(a.uri, "etag-2")]


def test_a_message_is_acknowledged_when_all_its_objects_are_posted(s3_conn, bucket, root, make):
    queue, emitter, clock = Queue(), Emitter(), Clock()
    batcher = make(queue, emitter, objects=2, clock=clock)
    queue.send(*(obj(bucket, root, n) for n in range(3)))  # one message, objects in two batches
    assert pump_once(queue, batcher) == 2 and queue.acked == []
    clock.now += 30
    assert pump_once(queue, batcher) == 1 and queue.acked == [1]


def test_a_restart_mid_window_batches_each_version_once(s3_conn, bucket, root, make):
    queue, clock = Queue(), Clock()
    for n in range(3):
        queue.send(obj(bucket, root, n))
    first = Emitter()
    assert pump_once(queue, make(queue, first, clock=clock)) == 0  # window open, then the bridge dies
    queue.restart()
    second = Emitter()
    restarted = make(queue, second, clock=clock)
    pump_once(queue, restarted)
    clock.now += 30
    assert pump_once(queue, restarted) == 3
    assert first.events == [] and len(second.events) == 1 and sorted(queue.acked) == [1, 2, 3]


def test_a_crash_after_posting_before_acknowledging_repeats_nothing(s3_conn, bucket, root, make):
    queue, clock = DiesOnAck(), Clock()
    for n in range(3):
        queue.send(obj(bucket, root, n))
    first = Emitter()
    with pytest.raises(Killed):
        pump_once(queue, make(queue, first, clock=clock), flush_all=True)
    assert len(first.events) == 1 and queue.acked == []

    queue.__class__ = Queue  # the restarted bridge acknowledges fine
    queue.restart()
    second = Emitter()
    assert pump_once(queue, make(queue, second, clock=clock), flush_all=True) == 0
    assert second.events == [] and sorted(queue.acked) == [1, 2, 3]


def test_a_crash_between_recording_and_posting_posts_the_same_batch_again(s3_conn, bucket, root, make, caplog):
    queue, clock = Queue(), Clock()
    for n in range(3):
        queue.send(obj(bucket, root, n))
    down = make(queue, Emitter(fail=True), clock=clock)
    assert pump_once(queue, down, flush_all=True) == 0  # written + recorded, not accepted
    [pending] = list(down.ledger(bucket).pending.values())
    assert queue.acked == [] and down.open == {}

    queue.restart()  # the bridge is restarted; SQS hands the messages out again
    caplog.set_level(logging.WARNING, logger="sentinel.bridge")
    up = Emitter()
    restarted = make(queue, up, clock=clock)
    assert pump_once(queue, restarted) == 3
    assert "1 batches written but not confirmed as posted" in caplog.text
    [event] = up.events
    assert event["id"] == pending["id"]  # the same event id: Prefect starts one run for it
    assert event["resource"]["prefect.resource.id"] == pending["resource"]["prefect.resource.id"]
    assert restarted.open == {} and sorted(queue.acked) == [1, 2, 3]
    assert restarted.ledger(bucket).pending == {}


def test_the_event_id_is_derived_from_the_list_content(bucket, root):
    a, b = obj(bucket, root, 1), obj(bucket, root, 2)
    same = digest("s3://x/in/", [a, b])
    assert same == digest("s3://x/in/", [b, a])
    assert event_id(same) != event_id(digest("s3://x/in/", [a, obj(bucket, root, 2, etag="etag-2")]))
    assert event_id(same) != event_id(digest("s3://x/other/", [a, b]))


def test_the_list_reads_back_as_exactly_those_object_versions_with_their_partitions(s3_conn, bucket, root, make):
    from tasks.io.inputs import list_input

    client = s3_conn.boto3_client()
    queue, emitter = Queue(), Emitter()
    objects = []
    for n, key in enumerate(["dt=2026-12-01/a.parquet", "dt=2026-12-02/b.parquet"]):
        etag = client.put_object(Bucket=bucket, Key=root + key, Body=b"x" * (n + 1))["ETag"].strip('"')
        objects.append(ObjectCreated(bucket, root + key, n + 1, etag, "2026-12-06T10:00:00Z"))
    queue.send(*objects)
    pump_once(queue, make(queue, emitter), flush_all=True)
    listing = list_input(s3_conn, emitter.events[0]["resource"]["prefect.resource.id"])
    assert [(o.uri, o.etag) for o in listing.objects] == [(o.uri, o.etag) for o in objects]
    assert [[(name, value) for name, value, _ in o.partition] for o in listing.objects] == [
        [("dt", "2026-12-01")], [("dt", "2026-12-02")]]  # read relative to the watched root


def test_objects_under_different_partition_folders_go_to_separate_batches(s3_conn, bucket, root, make):
    """A run's partition columns are the same for all its objects: `dt=…/` objects and top-level ones
    of one window make two batches (one run each), `dt=1/` and `dt=2/` one."""
    queue, emitter = Queue(), Emitter()
    keys = ["dt=1/a.parquet", "dt=2/b.parquet", "c.parquet"]
    queue.send(*(ObjectCreated(bucket, root + key, 1, "e", "x") for key in keys))
    assert pump_once(queue, make(queue, emitter), flush_all=True) == 3
    assert sorted(sorted(uri.rsplit("/", 2)[-2] + "/" + uri.rsplit("/", 1)[-1]
                         for uri, _ in listed(s3_conn, e["resource"]["prefect.resource.id"]))
                  for e in emitter.events) == [[f"{root.strip('/')}/c.parquet"], ["dt=1/a.parquet", "dt=2/b.parquet"]]
