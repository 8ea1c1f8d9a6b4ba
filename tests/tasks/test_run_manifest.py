from tasks.listing import ObjectRef
from tasks.run_manifest import RunRecord, config_hash, run_key


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_run_key_depends_on_etags_and_config_not_order():
    a, b = ObjectRef("s3://b/a", "e1", 1), ObjectRef("s3://b/b", "e2", 1)
    assert run_key([a, b], "h") == run_key([b, a], "h")
    assert run_key([a, b], "h") != run_key([a, ObjectRef("s3://b/b", "e3", 1)], "h")
    assert run_key([a, b], "h") != run_key([a, b], "h2")


def test_record_success_needs_no_failed_objects_or_shards():
    record = RunRecord("k", "h", {}, "s3://b/in", "s3://b/out/k", "echo")
    record.inputs.append({"uri": "s3://b/in/a", "error": None})
    record.shards.append({"shard_id": "s", "status_counts": {"ok": 3, "skipped_empty": 1}})
    assert record.succeeded and record.to_dict()["rows"] == 4
    record.shards.append({"shard_id": "t", "error": "boom"})
    assert not record.succeeded
