"""Quality results in S3 (`<run_dir>/quality/<name>.json`) and the Prefect markdown summary."""
import json
import pickle

import pyarrow as pa
import pytest

from tasks.quality import (
    InputSpec,
    OutputSpec,
    publish_quality_artifact,
    quality_markdown,
    quality_target,
    validate_input,
    validate_output,
    write_quality_result,
)

SPEC = InputSpec(id_column="id", text_column="text")


def passing(source="s3://b/in/a.parquet rows 0–3"):
    return validate_input(pa.table({"id": [1, 2, 3], "text": ["a", "b", None]}), SPEC, source)


def failing(source="s3://b/in/b.parquet rows 0–3"):
    return validate_input(pa.table({"id": [1, 1, None], "text": ["a", "b", "c"]}), SPEC, source)


def test_results_pickle_for_prefect_task_returns():
    bad = failing()
    again = pickle.loads(pickle.dumps(bad))
    assert again.message() == bad.message() and again.to_json_dict() == bad.to_json_dict()


def test_quality_target_is_next_to_the_outputs():
    assert str(quality_target("s3://out/translations/run-abc", "input/shard-0001")) == \
        "s3://out/translations/run-abc/quality/input/shard-0001.json"


def test_markdown_lists_failures_first_with_their_messages():
    good, bad = passing(), failing()
    markdown = quality_markdown([good.summary(), bad])  # summaries or results
    lines = markdown.splitlines()
    assert lines[0] == "# Data quality: 1 of 2 suite runs passed"
    assert lines[2] == "| suite | source | result | failed expectations |"
    assert lines[4].startswith("| input | `s3://b/in/b.parquet rows 0–3` | **FAILED** | "
                               "expect_column_values_to_not_be_null(id): 1 unexpected, ")
    assert lines[5] == "| input | `s3://b/in/a.parquet rows 0–3` | passed | — |"
    assert f"- {bad.message()}" in lines
    assert "column 'id' has 1 null value (row 2) and 2 duplicate values (row 0: 1, row 1: 1)" in bad.message()


def test_markdown_escapes_pipes_and_caps_passing_rows():
    many = [passing(f"s3://b/x|{i}") for i in range(3)]
    from tasks.quality import report

    original, report.MAX_TABLE_ROWS = report.MAX_TABLE_ROWS, 2
    try:
        markdown = quality_markdown(many)
    finally:
        report.MAX_TABLE_ROWS = original
    assert "`s3://b/x\\|0`" in markdown and "x\\|2" not in markdown
    assert "… and 1 more passed suite runs." in markdown
    assert quality_markdown([]).endswith("No suite ran.")


def test_publish_quality_artifact_creates_a_markdown_artifact(monkeypatch):
    import prefect.artifacts

    calls = []
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda **kw: calls.append(kw) or "id-1")
    assert publish_quality_artifact([passing(), failing()], key="data-quality") == "id-1"
    [call] = calls
    assert call["key"] == "data-quality" and call["markdown"].startswith("# Data quality: 1 of 2")


@pytest.mark.integration
def test_write_quality_result_to_s3(s3_conn, bucket):
    n = 20
    output = pa.table({"id": pa.array(range(n), pa.int64()), "translation": ["x"] * n, "status": ["ok"] * n})
    result = validate_output(output, None, n + 1, OutputSpec(), f"s3://{bucket}/in/a.parquet rows 0–21")
    run_dir = f"s3://{bucket}/out/run-123"
    uri = write_quality_result(s3_conn, run_dir, "output/shard-00001", result)
    assert uri == f"{run_dir}/quality/output/shard-00001.json"
    body = s3_conn.boto3_client().get_object(Bucket=bucket, Key="out/run-123/quality/output/shard-00001.json")
    document = json.loads(body["Body"].read())
    assert body["ContentType"] == "application/json"
    assert document["summary"]["success"] is False
    assert document["summary"]["message"] == result.message()
    assert "20 rows in output + quarantine, expected 21" in document["summary"]["message"]
    [row_count] = [r for r in document["great_expectations"]["results"]
                   if r["expectation_config"]["type"] == "expect_table_row_count_to_equal"]
    assert row_count["result"]["observed_value"] == 20 and row_count["expectation_config"]["kwargs"]["value"] == 21
    assert {e["expectation"] for e in document["expectations"]} >= {"expect_table_row_count_to_equal"}
    # a summary dict (e.g. returned from a task) can be written too
    assert write_quality_result(s3_conn, run_dir, "summary-only", result.summary()).endswith("/quality/summary-only.json")
