"""translate-batch end to end on the real stack: SeaweedFS S3, Triton, Prefect server."""
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deployments.demo_data import demo_tables, upload_table
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration


def read_parts(conn, run_dir: str) -> pa.Table:
    root = S3Uri.parse(run_dir)
    client = conn.boto3_client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=root.bucket, Prefix=root.prefix).get("Contents", [])
                  if o["Key"].rsplit("/", 1)[-1].startswith("part-"))
    tables = [pq.read_table(io.BytesIO(client.get_object(Bucket=root.bucket, Key=k)["Body"].read())) for k in keys]
    return pa.concat_tables(tables) if tables else pa.table({})


def part_versions(conn, run_dir: str) -> dict[str, object]:
    root = S3Uri.parse(run_dir)
    listing = conn.boto3_client().list_objects_v2(Bucket=root.bucket, Prefix=root.prefix).get("Contents", [])
    return {o["Key"]: o["LastModified"] for o in listing if "/part-" in o["Key"]}


def exists(conn, uri: str) -> bool:
    target = S3Uri.parse(uri)
    return "Contents" in conn.boto3_client().list_objects_v2(Bucket=target.bucket, Prefix=target.key)


@pytest.fixture(scope="module")
def demo_input(s3_conn, bucket):
    for name, table in demo_tables(objects=3, rows_per_object=40).items():
        upload_table(s3_conn, S3Uri(bucket, f"demo/{name}"), table, row_group_size=16)
    return f"s3://{bucket}/demo/"


def run(**params):
    from flows.translate_batch import translate_batch

    state = translate_batch(return_state=True, **params)
    return state, state.result(raise_on_failure=False)


def test_echo_run_writes_every_row_once_with_manifest(full_stack, s3_conn, bucket, demo_input):
    state, summary = run(input_uri=demo_input, output_uri=f"s3://{bucket}/out-echo/", model="echo",
                         shard_rows=20, passthrough_columns=["source"])
    assert state.is_completed(), summary
    out = read_parts(s3_conn, summary["output_dir"])
    assert out.num_rows == 120 and len(set(out.column("id").to_pylist())) == 120
    rows = out.to_pylist()
    empty = [r for r in rows if r["status"] == "skipped_empty"]
    assert len(empty) == 3 and all(r["translation"] is None for r in empty)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 117 and all(r["translation"] == r["source_text"] and r["model"] == "echo" for r in ok)
    assert {r["source_lang"] for r in ok} == {"de", "fr"} and {r["source"] for r in rows} == {"feed-0", "feed-1"}
    assert exists(s3_conn, summary["output_dir"] + "/_SUCCESS") and exists(s3_conn, summary["written"]["manifest"])
    assert summary["rows"] == 120 and summary["status_counts"] == {"ok": 117, "skipped_empty": 3}


def test_tiny_marian_translates_both_source_languages(full_stack, s3_conn, bucket, demo_input):
    state, summary = run(input_uri=demo_input, output_uri=f"s3://{bucket}/out-marian/", model="translate",
                         shard_rows=40, guards=False)
    assert state.is_completed(), summary
    ok = [r for r in read_parts(s3_conn, summary["output_dir"]).to_pylist() if r["status"] == "ok"]
    assert len(ok) == 117
    assert {r["model"] for r in ok} == {"marian-de-en", "marian-fr-en"}
    assert all(isinstance(r["translation"], str) and r["logprob"] <= 0.0 for r in ok)
    assert all(r["model"] == f"marian-{r['source_lang']}-en" for r in ok)
    assert all(r["hallucination_score"] is None for r in ok)  # guards off


def test_guards_redecode_then_quarantine_what_stays_flagged(full_stack, s3_conn, bucket, demo_input):
    """The tiny model's output is noise: the guards flag it, retry it with beam search, and
    quarantine what is still flagged, with reasons. Every input id lands exactly once."""
    state, summary = run(input_uri=demo_input, output_uri=f"s3://{bucket}/out-guarded/", model="translate",
                         shard_rows=40, max_quarantined_share=1.0)  # noise: nearly all of it is quarantined
    assert state.is_completed(), summary
    rows = read_parts(s3_conn, summary["output_dir"]).to_pylist()
    assert len(rows) == 120 and len({r["id"] for r in rows}) == 120
    counts = summary["status_counts"]
    assert counts.get("skipped_empty") == 3 and counts.get("ok", 0) + counts.get("flagged", 0) == 117
    assert counts.get("flagged", 0) > 0
    flagged = [r for r in rows if r["status"] == "flagged"]
    assert all(r["reasons"] and r["redecoded"] and r["hallucination_score"] >= 0.3 for r in flagged)
    assert all(isinstance(r["translation"], str) for r in flagged)  # the better of the two attempts is kept
    quarantined = read_parts(s3_conn, summary["output_dir"] + "/quarantine")
    assert set(quarantined.column("status").to_pylist()) == {"flagged"} and quarantined.num_rows == len(flagged)
    kept = [k for k in part_versions(s3_conn, summary["output_dir"]) if "/quarantine/" not in k]
    assert len(kept) == len(summary["shards"])  # one kept part per shard, flagged rows not in it
    shards = summary["shards"]
    assert sum(s["quarantined"] for s in shards) == len(flagged) and all(s["guard_seconds"] > 0 for s in shards)


def test_rerun_lands_in_same_place_and_recomputes_nothing(full_stack, s3_conn, bucket, demo_input):
    params = dict(input_uri=demo_input, output_uri=f"s3://{bucket}/out-rerun/", model="echo", shard_rows=20)
    _, first = run(**params)
    before = part_versions(s3_conn, first["output_dir"])
    state, second = run(**params)
    assert state.is_completed()
    assert second["run_key"] == first["run_key"]
    assert part_versions(s3_conn, second["output_dir"]) == before  # nothing rewritten, nothing added


def test_bad_object_fails_the_run_but_not_the_others(full_stack, s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "mixed/good.parquet"), pa.table({"id": [1, 2], "text": ["Guten Tag.", "Hallo Welt."]}))
    upload_table(s3_conn, S3Uri(bucket, "mixed/no_text.parquet"), pa.table({"id": [1], "body": ["x"]}))
    s3_conn.boto3_client().put_object(Bucket=bucket, Key="mixed/notes.parquet", Body=b"not parquet")
    s3_conn.boto3_client().put_object(Bucket=bucket, Key="mixed/garbled.parquet", Body=garbled_footer())
    state, summary = run(input_uri=f"s3://{bucket}/mixed/", output_uri=f"s3://{bucket}/out-mixed/", model="echo",
                         source_lang="de")
    assert state.is_failed()
    assert "3 objects" in str(summary)
    run_dirs = {o["Key"].split("/")[1] for o in s3_conn.boto3_client().list_objects_v2(
        Bucket=bucket, Prefix="out-mixed/")["Contents"] if "/part-" in o["Key"]}
    [run_dir] = run_dirs
    out = read_parts(s3_conn, f"s3://{bucket}/out-mixed/{run_dir}")
    assert out.column("id").to_pylist() == [1, 2]
    assert not exists(s3_conn, f"s3://{bucket}/out-mixed/{run_dir}/_SUCCESS")
    import json
    manifest = json.loads(s3_conn.boto3_client().get_object(
        Bucket=bucket, Key=f"out-mixed/{run_dir}/manifest.json")["Body"].read())
    errors = {i["uri"].rsplit("/", 1)[-1]: i["error"] for i in manifest["inputs"]}
    assert errors["good.parquet"] is None
    assert "text column 'text' not found" in errors["no_text.parquet"]
    assert "not a readable parquet file" in errors["notes.parquet"]
    assert "not a readable parquet file" in errors["garbled.parquet"]  # thrift garbage: bad input, not a crash


def garbled_footer() -> bytes:
    """Magic bytes and footer length intact, the footer's thrift metadata garbled."""
    out = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2], "text": ["a", "b"]}), out)
    raw = bytearray(out.getvalue())
    footer = int.from_bytes(raw[-8:-4], "little")
    for i in range(len(raw) - 8 - footer + 5, len(raw) - 8):
        raw[i] = (i * 7919) % 256
    return bytes(raw)


def test_output_inside_input_is_refused(full_stack, bucket):
    state, summary = run(input_uri=f"s3://{bucket}/demo/", output_uri=f"s3://{bucket}/demo/out/", model="echo")
    assert state.is_failed() and "inside input_uri" in str(summary)


def test_data_quality_suites_stop_a_bad_shard_before_inference_and_record_every_result(full_stack, s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "dq/good.parquet"), pa.table({"id": [1, 2, 3], "text": ["Guten Tag."] * 3}))
    upload_table(s3_conn, S3Uri(bucket, "dq/dupes.parquet"),
                 pa.table({"id": pa.array([7, 8, 8, None], pa.int64()), "text": ["Hallo."] * 4}))
    state, summary = run(input_uri=f"s3://{bucket}/dq/", output_uri=f"s3://{bucket}/out-dq/", model="echo",
                         source_lang="de")
    assert state.is_failed()
    manifest = json.loads(s3_conn.boto3_client().get_object(
        Bucket=bucket, Key=S3Uri.parse(summary_dir(s3_conn, bucket, "out-dq/")).join("manifest.json").key)["Body"].read())
    [bad] = [s for s in manifest["shards"] if s.get("error")]
    assert "dupes.parquet rows 0–4" in bad["error"] and "'id'" in bad["error"]
    assert "null" in bad["error"] and "duplicate" in bad["error"]
    [good] = [s for s in manifest["shards"] if not s.get("error")]
    assert [q["kind"] for q in good["quality"]] == ["input", "output"] and all(q["success"] for q in good["quality"])
    quality_keys = {o["Key"].split("/quality/")[1] for o in s3_conn.boto3_client().list_objects_v2(
        Bucket=bucket, Prefix="out-dq/")["Contents"] if "/quality/" in o["Key"]}
    # #28: passing results travel in the parts' metadata and the manifest; only the failed one is a file
    assert [k.split("/")[0] for k in quality_keys] == ["input"] and bad["shard_id"] in next(iter(quality_keys))
    assert not [o for o in s3_conn.boto3_client().list_objects_v2(Bucket=bucket, Prefix="out-dq/")["Contents"]
                if "/part-" in o["Key"] and bad["shard_id"] in o["Key"]]  # nothing committed for the bad shard
    markdown = latest_artifact_markdown(f"translate-quality-{manifest['run_key']}")
    assert "2 of 3 suite runs passed" in markdown and "dupes.parquet rows 0–4: column 'id'" in markdown
    report = latest_artifact_markdown(f"translate-report-{manifest['run_key']}")
    assert "(fix the input)" in report and "dupes.parquet" in report


def test_an_id_repeated_across_shards_of_an_object_fails_the_run_naming_both_row_ranges(full_stack, s3_conn, bucket):
    """Each shard's input suite passes (its ids are unique); the run's check across shards does not."""
    upload_table(s3_conn, S3Uri(bucket, "dq-across/a.parquet"),
                 pa.table({"id": pa.array([1, 2, 3, 3, 4, 5], pa.int64()), "text": ["Hallo."] * 6}), row_group_size=3)
    state, summary = run(input_uri=f"s3://{bucket}/dq-across/", output_uri=f"s3://{bucket}/out-dq-across/",
                         model="echo", source_lang="de", shard_rows=3)
    assert state.is_failed() and "in more than one shard (id 3: rows 0–3 and 3–6)" in str(summary)
    assert "(fix the input)" in str(summary)
    run_dir = summary_dir(s3_conn, bucket, "out-dq-across/")
    manifest = json.loads(s3_conn.boto3_client().get_object(
        Bucket=bucket, Key=S3Uri.parse(run_dir).join("manifest.json").key)["Body"].read())
    assert not [s for s in manifest["shards"] if s.get("error")] and manifest["rows"] == 6  # every row written
    [check] = manifest["object_checks"]
    assert check["message"] == (f"s3://{bucket}/dq-across/a.parquet: column 'id' has 1 value in more than one "
                                "shard (id 3: rows 0–3 and 3–6)")
    assert not exists(s3_conn, f"{run_dir}/_SUCCESS")
    assert "id 3: rows 0–3 and 3–6" in latest_artifact_markdown(f"translate-quality-{manifest['run_key']}")
    assert "in more than one shard (id 3: rows 0–3 and 3–6)" in latest_artifact_markdown(
        f"translate-report-{manifest['run_key']}")


def latest_artifact_markdown(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [artifact] = client.read_latest_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return artifact.data


def summary_dir(conn, bucket: str, prefix: str) -> str:
    [run_dir] = {o["Key"].split("/")[1] for o in conn.boto3_client().list_objects_v2(
        Bucket=bucket, Prefix=prefix)["Contents"] if not o["Key"].split("/")[1].startswith("_")}
    return f"s3://{bucket}/{prefix}{run_dir}"


def test_a_language_column_routes_rows_and_unknown_codes_stop_the_shard(full_stack, s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "lang/ok.parquet"), pa.table({
        "id": [1, 2, 3], "text": ["Guten Tag.", "Bonjour.", "Hallo Welt."], "lang": ["de", "fr", None]}))
    upload_table(s3_conn, S3Uri(bucket, "lang/bad.parquet"), pa.table({
        "id": [1, 2], "text": ["Guten Tag.", "Hallo."], "lang": ["de", "klingon"]}))
    state, summary = run(input_uri=f"s3://{bucket}/lang/", output_uri=f"s3://{bucket}/out-lang/", model="echo",
                         source_lang="de", language_column="lang")
    assert state.is_failed()
    run_dir = summary_dir(s3_conn, bucket, "out-lang/")
    manifest = json.loads(s3_conn.boto3_client().get_object(
        Bucket=bucket, Key=S3Uri.parse(run_dir).join("manifest.json").key)["Body"].read())
    [bad] = [s for s in manifest["shards"] if s.get("error")]
    assert "bad.parquet rows 0–2" in bad["error"] and "'lang'" in bad["error"] and "klingon" in bad["error"]
    rows = {r["id"]: r for r in read_parts(s3_conn, run_dir).to_pylist()}
    assert {i: r["source_lang"] for i, r in rows.items()} == {1: "de", 2: "fr", 3: "de"}


def test_categorical_and_view_columns_run_through_the_flow_as_strings(full_stack, s3_conn, bucket):
    """A pandas-category id, a string_view text (polars, pyarrow >= 17) and a dictionary passthrough
    column: every row is translated, and the output holds them as plain strings."""
    texts = ["Guten Tag. Wie geht es Ihnen?", None, "Das Hotel war sauber."]
    table = pa.table({"id": pa.array(["r0", "r1", "r2"]).dictionary_encode(),
                      "text": pa.array(texts, pa.string_view()),
                      "source": pa.array(["feed", "feed", "mail"]).dictionary_encode()})
    upload_table(s3_conn, S3Uri(bucket, "typed/rows.parquet"), table, row_group_size=2)
    state, summary = run(input_uri=f"s3://{bucket}/typed/", output_uri=f"s3://{bucket}/out-typed/", model="echo",
                         source_lang="de", passthrough_columns=["source"])
    assert state.is_completed(), summary
    out = read_parts(s3_conn, summary["output_dir"])
    assert out.schema.field("id").type == pa.string() and out.schema.field("source").type == pa.string()
    rows = sorted(out.to_pylist(), key=lambda r: r["id"])
    assert [(r["id"], r["status"], r["translation"], r["source"]) for r in rows] == [
        ("r0", "ok", texts[0], "feed"), ("r1", "skipped_empty", None, "feed"), ("r2", "ok", texts[2], "mail")]
