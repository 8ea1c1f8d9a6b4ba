import json

from tasks.engine.object_entries import json_ready
from tasks.engine.run_record import RunRecord, config_hash, error_kind, run_key
from tasks.io.listing import ObjectRef
from tasks.io.parquet import InputError


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_run_key_depends_on_etags_and_config_not_order():
    a, b = ObjectRef("s3://b/a", "e1", 1), ObjectRef("s3://b/b", "e2", 1)
    assert run_key([a, b], "h") == run_key([b, a], "h")
    assert run_key([a, b], "h") != run_key([a, ObjectRef("s3://b/b", "e3", 1)], "h")
    assert run_key([a, b], "h") != run_key([a, b], "h2")


def record(**fields) -> RunRecord:
    return RunRecord("k", "h", {"model": "echo"}, "s3://b/in/", "s3://b/out/k", "echo", **fields)


def shard(start: int, stop: int, ok: int = 0, flagged: int = 0, failed: int = 0, **extra) -> dict:
    counts = {k: v for k, v in (("ok", ok), ("flagged", flagged), ("failed", failed)) if v}
    return {"shard_id": f"s{start}", "object_uri": "s3://b/in/a.parquet", "row_start": start, "row_stop": stop,
            "status_counts": counts, "rows": ok + flagged + failed, "quarantined": flagged + failed,
            "seconds": 2.0, "guard_seconds": 1.0} | extra


def test_record_success_needs_no_failed_objects_or_shards():
    run = record()
    run.inputs.append({"uri": "s3://b/in/a", "rows": 4, "error": None})
    run.shards.append(shard(0, 4, ok=4))
    assert run.succeeded and run.to_dict()["rows"] == 4
    run.shards.append({"shard_id": "t", "object_uri": "s3://b/in/a", "row_start": 4, "row_stop": 9, "error": "boom"})
    assert not run.succeeded and run.counts()["rows_failed"] == 5
    assert run.problems()[0]["advice"] == "rerun to finish"


def test_headline_counts_kept_quarantined_failed_and_quarantine_share_fails_the_run():
    run = record(max_quarantined_share=0.5)
    run.inputs.append({"uri": "s3://b/in/a.parquet", "rows": 320})
    run.shards += [shard(0, 160, ok=3, flagged=157), shard(160, 320, flagged=155, failed=5)]
    counts = run.counts()
    assert (counts["rows_kept"], counts["rows_quarantined"], counts["rows_failed"]) == (3, 317, 0)
    assert not run.succeeded
    assert run.headline().startswith("Failed: 3 rows kept, 317 quarantined, 0 failed")
    [problem] = run.problems()
    assert problem["kind"] == "quarantine" and "317 of 320 rows written (99.1%)" in problem["error"]
    assert "max_quarantined_share=50%" in problem["error"] and problem["what"] == "s3://b/out/k/quarantine/"
    run.max_quarantined_share = 1.0
    assert run.succeeded and run.headline() == "Completed: 3 rows kept, 317 quarantined, 0 failed"


def test_input_errors_are_told_apart_from_transient_ones():
    assert error_kind(InputError("s3://b/x: not parquet")) == "input" and error_kind(OSError("AWS Error")) == "rerun"
    run = record()
    run.inputs += [{"uri": "s3://b/in/corrupt.parquet", "rows": 0, "error": "s3://b/in/corrupt.parquet: not a "
                    "readable parquet file"},
                   {"uri": "s3://b/in/slow.parquet", "rows": 0, "error": "s3://b/in/slow.parquet: planning failed (x)"}]
    run.shards.append({"shard_id": "q", "object_uri": "s3://b/in/q.parquet", "row_start": 0, "row_stop": 3,
                       "error": "ids null", "quality": [{"kind": "input", "success": False}]})
    kinds = {p["what"].split("/")[-1]: p["advice"] for p in run.problems()}
    assert kinds == {"corrupt.parquet": "fix the input", "slow.parquet": "rerun to finish",
                     "q.parquet rows 0–3": "fix the input"}
    assert "fix the input; rerun to finish" in run.headline()


def test_a_problem_names_its_object_and_rows_once():
    """A data-quality failure's message starts with "<object> rows a–b:", which the problem's `what` says."""
    run = record()
    run.shards += [{"shard_id": "q", "object_uri": "s3://b/in/q.parquet", "row_start": 0, "row_stop": 4,
                    "error": "s3://b/in/q.parquet rows 0–4: column 'text' has type int64, expected string"},
                   {"shard_id": "r", "object_uri": "s3://b/in/r.parquet", "row_start": 4, "row_stop": 9,
                    "error": "s3://b/in/r.parquet: row group 1 is unreadable"}]
    assert [(p["what"], p["error"]) for p in run.problems()] == [
        ("s3://b/in/q.parquet rows 0–4", "column 'text' has type int64, expected string"),
        ("s3://b/in/r.parquet rows 4–9", "row group 1 is unreadable")]
    assert run.failure_message("s3://b/out/report.md").count("q.parquet") == 1


def test_guard_time_is_a_share_of_the_same_shards_time():
    run = record()
    run.inputs.append({"uri": "s3://b/in/a.parquet", "rows": 30})
    run.shards += [shard(0, 10, ok=10), shard(10, 20, ok=10),
                   shard(20, 30, ok=10, seconds=0.0, guard_seconds=7.0, reused=True)]  # reused: not this run's time
    times = run.timings()
    assert times["shards_computed"] == 2 and times["shard_s"] == 4.0 and times["guard_s"] == 2.0
    assert times["guard_share_of_shard_time"] == 0.5


def test_empty_input_completes_unless_asked_to_fail():
    run = record()
    assert run.succeeded and run.headline() == "Completed: nothing to do, no input objects under s3://b/in/"
    run.empty_input_fails = True
    assert not run.succeeded and run.problems()[0]["advice"] == "fix the input"


def test_manifest_puts_the_summary_first_and_config_last():
    run = record()
    run.inputs.append({"uri": "s3://b/in/a.parquet", "rows": 1})
    run.shards.append(shard(0, 1, ok=1))
    run.finish(1.5)
    keys = list(json.loads(json.dumps(run.to_dict(), default=json_ready)))
    assert keys[:4] == ["run_key", "flow", "status", "succeeded"] and keys[-1] == "config"
    assert keys.index("counts") < keys.index("shards") < keys.index("config_hash")
    assert run.status == "Completed" and run.finished_at and run.to_dict()["finished_at"] == run.finished_at


def test_a_large_document_is_put_whole_from_a_spooled_file(s3_conn, bucket, monkeypatch):
    """put_json streams the JSON through a file spooled to disk (a 100,000-object manifest is ~45 MB):
    S3 gets the same document, in one object, as json.dumps would have written."""
    import tasks.engine.run_record as run_record
    from tasks.io.s3_uri import S3Uri

    monkeypatch.setattr(run_record, "SPOOLED_JSON_BYTES", 64 * 1024)  # this one goes to disk
    document = {"inputs": [{"uri": f"s3://b/in/part-{i:06d}.parquet", "rows": i, "error": None, "name": "Zoë"}
                           for i in range(20_000)]}
    target = S3Uri.parse(f"s3://{bucket}/tests/put-json/manifest.json")
    assert run_record.put_json(s3_conn, target, document) == str(target)
    body = s3_conn.boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
    assert body == json.dumps(document, indent=2, default=str, ensure_ascii=False).encode()
