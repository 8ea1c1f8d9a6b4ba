import json

from deployments.bridge.events import ObjectCreated, parse_notification, to_prefect_event

S3_NOTIFICATION = {"Records": [{
    "eventName": "ObjectCreated:Put", "eventTime": "2026-11-22T10:00:00.000Z",
    "s3": {"bucket": {"name": "inbox-bucket"}, "object": {"key": "in/a+b%C3%A9.parquet", "size": 12, "eTag": "abc"}},
}]}


def test_parses_s3_notification_and_decodes_keys():
    [obj] = parse_notification(json.dumps(S3_NOTIFICATION))
    assert obj.uri == "s3://inbox-bucket/in/a bé.parquet" and obj.size == 12 and obj.etag == "abc"


def test_parses_sns_and_eventbridge_envelopes_and_ignores_test_events():
    assert parse_notification({"Message": json.dumps(S3_NOTIFICATION)})[0].key == "in/a bé.parquet"
    bridge = {"detail-type": "Object Created", "time": "2026-11-22T10:00:00Z",
              "detail": {"bucket": {"name": "b-1"}, "object": {"key": "k.parquet", "size": 3, "etag": "e"}}}
    assert parse_notification(bridge)[0].uri == "s3://b-1/k.parquet"
    assert parse_notification({"Event": "s3:TestEvent", "Service": "Amazon S3"}) == []


def test_event_id_is_stable_per_object_version():
    a = ObjectCreated("b-1", "k", 1, "etag-1", "2026-11-22T10:00:00Z")
    assert a.event_id == ObjectCreated("b-1", "k", 1, "etag-1", "2026-11-23T00:00:00Z").event_id
    assert a.event_id != ObjectCreated("b-1", "k", 1, "etag-2", "2026-11-22T10:00:00Z").event_id
    event = to_prefect_event(a)
    assert event["event"] == "s3.object.created" and event["resource"]["prefect.resource.id"] == "s3://b-1/k"
    assert event["payload"] == {"bucket": "b-1", "key": "k", "size": 1, "etag": "etag-1"}
