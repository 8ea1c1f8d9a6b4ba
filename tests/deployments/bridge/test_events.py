import json

from deployments.bridge.batches import batch_event, digest
from deployments.bridge.events import ObjectCreated, parse_notification

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


def test_hidden_keys_under_the_prefix_are_not_data():
    data = ObjectCreated("b", "inbox/dt=1/part-0.parquet", 1, "e", "2026-12-06T00:00:00Z")
    assert data.matches("inbox/", ".parquet")
    for key in ("inbox/_temporary/0/_temporary/attempt_1/part-0.parquet", "inbox/.spark-staging-1/part-0.parquet",
                "inbox/_delta_log/00000.parquet", "inbox/dt=1/_final.parquet"):
        assert not ObjectCreated("b", key, 1, "e", "2026-12-06T00:00:00Z").matches("inbox/", ".parquet"), key
    # the watched prefix itself may hold a hidden segment: only segments under it count
    assert ObjectCreated("b", "_landing/in/a.parquet", 1, "e", "x").matches("_landing/in/", ".parquet")


def test_the_shipped_trigger_starts_a_run_per_batch_of_the_inbox():
    """prefect.yaml's trigger, evaluated by the Prefect server's own matcher: a batch of the watched
    inbox fires it with the input list as `input_uri`; a batch of another prefix or bucket does not.
    (Keys with a hidden segment never reach a batch: the bridge and the input list leave them out.)"""
    from pathlib import Path

    import yaml
    from prefect.server.events.schemas.events import Resource, ResourceSpecification

    doc = yaml.safe_load((Path(__file__).resolve().parents[3] / "prefect.yaml").read_text())
    [trigger] = next(d for d in doc["deployments"] if d["name"] == "translate-on-upload")["triggers"]
    assert trigger["expect"] == ["sentinel.input-list.created"]
    assert trigger["parameters"]["input_uri"] == "{{ event.resource.id }}"
    spec = ResourceSpecification(trigger["match"])

    def fires(bucket: str, root: str) -> bool:
        objects = [ObjectCreated(bucket, f"{root}a.parquet", 1, "e", "x")]
        uri = f"s3://{bucket}/_sentinel/bridge/{root}batches/t-d.inputs.json"
        event = batch_event(uri, f"s3://{bucket}/{root}", objects, digest(f"s3://{bucket}/{root}", objects))
        return spec.matches(Resource(event["resource"]))

    assert fires("sentinel-demo", "inbox/")
    assert not fires("sentinel-demo", "other/") and not fires("another-bucket", "inbox/")
