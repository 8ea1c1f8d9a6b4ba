"""The progress artifact and the report markdown (real Prefect server for the artifact)."""
import pytest

from flows.run_report import summary_markdown
from tasks.engine.object_entries import InputEntries
from tasks.engine.run_record import RunRecord


def record_with(shards: list[dict], inputs: list[dict]) -> RunRecord:
    record = RunRecord("k1", "h", {}, "s3://bkt/in/", "s3://bkt/out/k1", "translate", flow="translate-batch")
    record.inputs, record.shards = InputEntries(inputs), shards
    record.finish(12.0)
    return record


def test_report_headline_sections_and_full_paths():
    record = record_with(
        [{"shard_id": "a", "object_uri": "s3://bkt/in/a.parquet", "row_start": 0, "row_stop": 10,
          "status_counts": {"ok": 9, "flagged": 1}, "quarantined": 1, "seconds": 4.0, "guard_seconds": 1.0},
         {"shard_id": "b", "object_uri": "s3://bkt/in/a.parquet", "row_start": 10, "row_stop": 20,
          "error": "Triton unavailable", "error_kind": "rerun"}],
        [{"uri": "s3://bkt/in/a.parquet", "rows": 20},
         {"uri": "s3://bkt/in/bad.parquet", "rows": 0, "error": "s3://bkt/in/bad.parquet: not readable parquet"}])
    text = summary_markdown(record)
    assert text.startswith("# translate-batch `k1`: Failed: 9 rows kept, 1 quarantined, 10 failed; 1 objects (of 2) "
                           "failed (fix the input; rerun to finish)")
    assert "- **quarantined rows**: `s3://bkt/out/k1/quarantine/`" in text
    assert "## Fix the input (a rerun meets the same bytes)\n\n- `s3://bkt/in/bad.parquet`" in text
    assert "## Rerun to finish" in text and "rows 10–20`: Triton unavailable" in text
    assert "| guards | 1.0 s summed over the same shards: 25% of their shard time |" in text


@pytest.mark.integration
def test_progress_tells_failed_shards_apart_and_ends_at_100(prefect_stack):
    from prefect import flow
    from prefect.client.orchestration import get_client

    from flows.run_report import ShardProgress, progress_listener

    updates = []

    @flow(name="test-progress")
    def progressing():
        progress = ShardProgress(2, "shards", rows=20)
        progress.advance({"row_start": 0, "row_stop": 10})
        progress.advance({"row_start": 10, "row_stop": 20, "error": "bad ids",
                          "quality": [{"kind": "input", "success": False}]})
        progress.finish(record_with([], [{"uri": "s3://bkt/in/a.parquet", "rows": 20, "error": "x"}]))
        return progress.artifact_id

    with progress_listener(updates.append):
        artifact_id = progressing()
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

    with get_client(sync_client=True) as client:
        [ours] = client.read_artifacts(artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact_id])))
    assert ours.data == 100.0 and ours.description.startswith("shards: Failed")
    assert [(u.rows_done, u.failed) for u in updates] == [(0, 0), (10, 0), (20, 1), (20, 1)]
    assert updates[-1].finished


def test_rows_per_second_reads_right_for_small_runs():
    from flows.run_report import rate

    assert (rate(0.44), rate(12.3), rate(12345.6)) == ("0.4", "12", "12,346")  # a 2-row run said "0 rows/s"
