"""`sentinel runs list|show` against real S3 (SeaweedFS): runs found by what they read."""
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deployments import runs
from tasks.engine.run_record import RunRecord, write_run_record

pytestmark = pytest.mark.integration


def put(conn, uri: str, body: bytes) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    conn.boto3_client().put_object(Bucket=bucket, Key=key, Body=body)


def parquet(rows: list[dict]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def outputs(s3_conn, bucket):
    root = f"s3://{bucket}/runs-out"
    made = {}
    for key, name, started, kept, flagged in (("aaaa1111", "x1.parquet", "2026-12-01T10:00:00+00:00", 3, 1),
                                              ("aaaa2222", "x2.parquet", "2026-12-01T11:00:00+00:00", 2, 0)):
        record = RunRecord(run_key=key, config_hash="h", config={}, input_uri=f"s3://{bucket}/inbox/{name}",
                           output_dir=f"{root}/inbox/{key}", model="echo", flow="translate-batch", started_at=started)
        record.inputs.append({"uri": record.input_uri, "rows": kept + flagged})
        record.shards.append({"shard_id": "s", "object_uri": record.input_uri, "row_start": 0,
                              "row_stop": kept + flagged, "status_counts": {"ok": kept, "flagged": flagged},
                              "quarantined": flagged, "seconds": 1.0})
        record.finish(2.0)
        write_run_record(s3_conn, record, f"# report of {key}\n")
        put(s3_conn, f"{record.output_dir}/part-s.parquet",
            parquet([{"id": f"{key}-{i}", "status": "ok", "source_text": "Hallo", "translation": "Hello"}
                     for i in range(kept)]))
        if flagged:
            put(s3_conn, f"{record.output_dir}/quarantine/part-s.parquet",
                parquet([{"id": f"{key}-q", "status": "flagged", "source_text": "Hallo", "translation": "Hello Hello",
                          "reasons": ["repetition"]}]))
        made[key] = record
    old = {"run_key": "bbbb3333", "input_uri": f"s3://{bucket}/daily/2026-11-30/", "succeeded": True,
           "started_at": "2026-11-30T02:00:00+00:00", "status_counts": {"ok": 5, "failed": 1}, "inputs": []}
    put(s3_conn, f"{root}/daily/2026-11-30/bbbb3333/manifest.json", json.dumps(old).encode())  # before report.json
    return root, made


def test_list_is_newest_first_with_counts_at_any_depth(s3_conn, outputs):
    root, _ = outputs
    rows = runs.list_runs(s3_conn, root)
    assert [r["run_key"] for r in rows] == ["aaaa2222", "aaaa1111", "bbbb3333"]
    first = rows[1]
    assert (first["flow"], first["kept"], first["quarantined"], first["failed"], first["status"]) == (
        "translate-batch", 3, 1, 0, "Completed")
    assert first["input"].endswith("/inbox/x1.parquet") and first["finished"]
    assert (rows[2]["kept"], rows[2]["quarantined"], rows[2]["status"]) == (5, 1, "Completed")  # from a manifest
    table = runs.format_table(rows)
    assert table.splitlines()[0].split() == [c.upper() for c in runs.COLUMNS]


def test_list_finds_the_run_of_an_input_object(s3_conn, outputs):
    root, _ = outputs
    assert [r["run_key"] for r in runs.list_runs(s3_conn, root, input_filter="x1.parquet")] == ["aaaa1111"]


def test_show_by_key_prefix_prints_report_and_first_rows(s3_conn, outputs):
    root, made = outputs
    run_dir = runs.find_run(s3_conn, "aaaa1", root)
    assert run_dir == made["aaaa1111"].output_dir
    text = runs.show_run(s3_conn, run_dir, rows=2)
    assert text.startswith("# report of aaaa1111")
    assert "id=aaaa1111-0 | status=ok | source_text=Hallo | translation=Hello" in text
    assert "id=aaaa1111-1" in text and "aaaa1111-2" not in text  # --rows 2
    assert "status=flagged" in text and "reasons=repetition" in text
    with pytest.raises(runs.RunNotFound, match="matches 2 runs"):
        runs.find_run(s3_conn, "aaaa", root)
    with pytest.raises(runs.RunNotFound, match="no run key starting with 'zzz'"):
        runs.find_run(s3_conn, "zzz", root)
    # an s3:// directory: the run itself, a prefix with one run below it, or a clear error (was a traceback)
    assert runs.find_run(s3_conn, run_dir + "/", None) == run_dir
    with pytest.raises(runs.RunNotFound, match="holds 3 runs, give one"):
        runs.find_run(s3_conn, root, None)
    with pytest.raises(runs.RunNotFound, match="no run under"):
        runs.find_run(s3_conn, root.rstrip("/") + "/nothing-here/", None)


def test_cli_runs_list_and_show(s3_conn, outputs, capsys):
    from deployments.cli import main

    root, _ = outputs
    assert main(["runs", "list", "--output", root, "--input", "x2"]) == 0
    out = capsys.readouterr().out
    assert "aaaa2222" in out and "aaaa1111" not in out
    assert main(["runs", "show", "aaaa2", "--output", root]) == 0
    assert "# report of aaaa2222" in capsys.readouterr().out
