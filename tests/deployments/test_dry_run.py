"""`sentinel translate … --dry-run` on a real prefix in the local S3: the objects, the shards, the
run key and the outputs, with nothing written; then the real run lands where the dry run said."""
from __future__ import annotations

import re

import pytest

from deployments.dry_run import size


def test_sizes_read_as_people_write_them():
    assert [size(n) for n in (0, 830, 1536, 32 * 2**20)] == ["0 B", "830 B", "1.5 KiB", "32.0 MiB"]


@pytest.mark.integration
def test_dry_run_lists_objects_shards_run_key_and_outputs_then_the_run_lands_there(full_stack, s3_conn, bucket,
                                                                                    capfd):
    from deployments.cli import main
    from deployments.demo_data import demo_tables, upload_table
    from tasks.io.s3_uri import S3Uri

    for name, table in demo_tables(objects=2, rows_per_object=30).items():
        upload_table(s3_conn, S3Uri(bucket, f"dry-in/{name}"), table, row_group_size=10)
    client = s3_conn.boto3_client()
    client.put_object(Bucket=bucket, Key="dry-in/notes.parquet", Body=b"not parquet")
    argv = ["translate", "--input", f"s3://{bucket}/dry-in/", "--output", f"s3://{bucket}/dry-out/",
            "--model", "echo", "--shard-rows", "20", "--no-data-quality"]

    assert main([*argv, "--dry-run"]) == 0
    out = capfd.readouterr().out
    assert "3 objects, 60 rows" in out and "1 of them would fail" in out
    assert re.search(rf"s3://{bucket}/dry-in/notes.parquet +error: .*not a readable parquet file", out)
    for name in ("part-00.parquet", "part-01.parquet"):
        assert re.search(rf"s3://{bucket}/dry-in/{name} +30 rows .* 2 shards", out)
    shard_lines = re.findall(r"^ +(\d+) +([\d.,]+ (?:B|KiB)) +(\d+)  (part-\S+\.parquet)  <- (\S+) rows", out, re.M)
    assert [(rows, objects) for rows, _, objects, _, _ in shard_lines] == [("20", "1"), ("10", "1")] * 2
    key = re.search(r"^run key  ([0-9a-f]{16})", out, re.M).group(1)
    assert f"outputs  s3://{bucket}/dry-out/{key}/" in out
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="dry-out/")  # nothing written

    client.delete_object(Bucket=bucket, Key="dry-in/notes.parquet")  # the run proper, on the good objects
    assert main([*argv, "--dry-run"]) == 0
    planned = capfd.readouterr().out
    key = re.search(r"^run key  ([0-9a-f]{16})", planned, re.M).group(1)
    assert main(argv) == 0, capfd.readouterr()
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"dry-out/{key}/")["Contents"]
    written = sorted(o["Key"].rsplit("/", 1)[-1] for o in listed if re.search(rf"/{key}/part-[^/]+$", o["Key"]))
    assert written == sorted(re.findall(r"(part-\S+\.parquet)  <-", planned))


@pytest.mark.integration
@pytest.mark.parametrize("command", ["transcribe", "speech-translate"])
def test_speech_dry_runs_split_row_groups_into_row_ranges(command, full_stack, s3_conn, bucket, capfd):
    import pyarrow as pa

    from deployments.cli import main
    from deployments.demo_data import upload_table
    from tasks.io.s3_uri import S3Uri

    clips = pa.table({"id": [f"c{i}" for i in range(5)], "audio": [b"RIFF" + bytes(1000) for _ in range(5)]})
    upload_table(s3_conn, S3Uri(bucket, f"dry-audio-{command}/a.parquet"), clips, row_group_size=5)
    assert main([command, "--input", f"s3://{bucket}/dry-audio-{command}/", "--output", f"s3://{bucket}/dry-out/",
                 "--shard-rows", "2", "--dry-run"]) == 0
    out = capfd.readouterr().out
    assert f"{command.replace('transcribe', 'transcribe-batch')} dry run" in out and "1 object, 5 rows" in out
    assert re.findall(r"^ +(\d+) +[\d.,]+ (?:B|KiB) +1  part-", out, re.M) == ["2", "2", "1"]
