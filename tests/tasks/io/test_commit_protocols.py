"""Which objects of a folder are data, by its writer's commit protocol (pure: keys in, verdicts out)."""
import json

from tasks.io.commit_protocols import hidden_segment, resolve_commit_protocols

SPARK_PART = "part-00000-6b1f2c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f-c000.snappy.parquet"


def resolve(keys, markers=None):
    markers = markers or {}
    return resolve_commit_protocols(keys, lambda key: json.dumps(markers[key]).encode())


def test_hidden_by_any_segment_under_the_prefix():
    assert hidden_segment("_temporary/0/part-0.parquet") == "_temporary"
    assert hidden_segment("dt=1/.spark-staging-1/part-0.parquet") == ".spark-staging-1"
    assert hidden_segment("dt=1/part-0.parquet") is None
    assert hidden_segment("_final.parquet") == "_final.parquet"


def test_spark_folder_keeps_committed_parts_and_names_the_aborted_attempt():
    stale = "_temporary/0/_temporary/attempt_202612011200_0001_m_000001_3/part-00001-x-c000.snappy.parquet"
    found = resolve([SPARK_PART, f".{SPARK_PART}.crc", "_SUCCESS", stale])
    assert found.live == [SPARK_PART]
    assert [(s.key, "_temporary" in s.reason) for s in found.skipped] == [(stale, True)]
    assert found.warnings == []  # _SUCCESS is there


def test_spark_folder_without_success_is_warned_about():
    found = resolve([f"dt=2026-12-01/{SPARK_PART}", "_temporary/0/x.parquet"])
    assert found.live == [f"dt=2026-12-01/{SPARK_PART}"]
    assert len(found.warnings) == 1 and "_SUCCESS" in found.warnings[0] and "in progress" in found.warnings[0]


def test_hidden_names_are_skipped_with_a_reason():
    found = resolve(["a.parquet", "_final.parquet", ".draft.parquet"])
    assert found.live == ["a.parquet"]
    assert {s.key: s.reason for s in found.skipped}.keys() == {"_final.parquet", ".draft.parquet"}
    assert all("hidden name" in s.reason for s in found.skipped)


def test_databricks_transactions_decide_which_files_are_live():
    old = "part-00000-tid-111-aaaa-0-c000.snappy.parquet"
    new = "part-00000-tid-222-bbbb-0-c000.snappy.parquet"
    failed_attempt = "part-00001-tid-222-cccc-1-c000.snappy.parquet"
    uncommitted = "part-00000-tid-333-dddd-0-c000.snappy.parquet"
    vacuumed_markers = "part-00000-tid-99-eeee-0-c000.snappy.parquet"
    markers = {"_committed_111": {"added": [old], "removed": []},
               "_committed_222": {"added": [new], "removed": [old]}}
    keys = [old, new, failed_attempt, uncommitted, vacuumed_markers, "_started_111", "_committed_111",
            "_started_222", "_committed_222", "_started_333", "_SUCCESS"]
    found = resolve(keys, markers)
    assert sorted(found.live) == sorted([new, vacuumed_markers])
    reasons = {s.key: s.reason for s in found.skipped}
    assert "removed by Databricks transaction 222" in reasons[old]
    assert "not listed in _committed_222" in reasons[failed_attempt]
    assert "uncommitted Databricks transaction 333" in reasons[uncommitted]
    assert set(reasons) == {old, failed_attempt, uncommitted}  # markers are bookkeeping, not skipped data


def test_databricks_partitioned_folder_markers_apply_per_folder():
    live = "dt=1/part-00000-tid-5-a-0-c000.snappy.parquet"
    other = "dt=2/part-00000-tid-6-b-0-c000.snappy.parquet"
    markers = {"dt=1/_committed_5": {"added": ["part-00000-tid-5-a-0-c000.snappy.parquet"], "removed": []}}
    found = resolve([live, "dt=1/_started_5", "dt=1/_committed_5", other, "dt=2/_started_6"], markers)
    assert found.live == [live]
    assert [s.key for s in found.skipped] == [other]


def test_an_underscore_partition_folder_is_data_as_spark_reads_it():
    assert hidden_segment("_bucket=3/part-0.parquet") is None
    assert hidden_segment("_bucket=3/_temporary/part-0.parquet") == "_temporary"
    assert hidden_segment("_x=1.parquet") == "_x=1.parquet"  # a file name: hidden however it reads
