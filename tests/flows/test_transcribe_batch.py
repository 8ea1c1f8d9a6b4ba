"""transcribe-batch end to end on the real stack: SeaweedFS S3, Triton (Whisper tiny.en), Prefect server."""
import json

import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from deployments.demo_speech import bytes_table, fixture_clips, read_run_rows, spoken_wer, upload_uri_dataset
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration

COLUMNS = ["id", "transcript", "language", "avg_logprob", "no_speech_prob", "compression_ratio", "duration_s",
           "speech_s", "segments", "model", "status", "error"]
SCRIPTS = {c["id"]: c["text"] for c in fixture_clips()}


def run(**params):
    from flows.transcribe_batch import transcribe_batch

    state = transcribe_batch(return_state=True, **params)
    return state, state.result(raise_on_failure=False)


def exists(conn, uri: str) -> bool:
    target = S3Uri.parse(uri)
    return "Contents" in conn.boto3_client().list_objects_v2(Bucket=target.bucket, Prefix=target.key)


def part_versions(conn, run_dir: str) -> dict:
    root = S3Uri.parse(run_dir)
    listing = conn.boto3_client().list_objects_v2(Bucket=root.bucket, Prefix=root.prefix).get("Contents", [])
    return {o["Key"]: o["LastModified"] for o in listing if "/part-" in o["Key"]}


@pytest.fixture(scope="module")
def bytes_input(s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "speech-bytes/clips.parquet"), bytes_table(), row_group_size=4)
    return f"s3://{bucket}/speech-bytes/"


def test_audio_bytes_rows_are_transcribed_and_bad_rows_say_why(full_stack, s3_conn, bucket, bytes_input):
    state, summary = run(input_uri=bytes_input, output_uri=f"s3://{bucket}/out-asr/", max_audio_s=30,
                         shard_rows=6, passthrough_columns=["script"])
    assert state.is_completed(), summary
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, COLUMNS + ["script"])}
    assert summary["status_counts"] == {"ok": 7, "failed": 3, "skipped_empty": 1} and len(summary["shards"]) == 3
    assert spoken_wer(list(rows.values()), SCRIPTS) <= 0.30
    assert "good morning everyone" in rows["stereo"]["transcript"].lower()  # 44.1 kHz stereo FLAC
    for quiet in ("silence", "noise"):
        assert rows[quiet]["status"] == "ok" and rows[quiet]["transcript"] == "" and rows[quiet]["speech_s"] == 0.0
    assert rows["bad-undecodable"]["error"].startswith("undecodable audio (340 bytes)")
    assert rows["bad-empty"]["error"] == "audio is empty (0 bytes)"
    assert rows["bad-too-long"]["error"] == "audio is 35.0 s long, over max_audio_s=30 (not transcribed)"
    assert rows["no-audio"]["status"] == "skipped_empty" and rows["no-audio"]["error"] is None
    fox = rows["fox"]
    assert fox["model"] == "whisper-tiny.en" and fox["language"] == "en" and fox["avg_logprob"] <= 0
    assert abs(fox["duration_s"] - 3.44) < 0.1 and json.loads(fox["segments"])[0]["text"]
    assert fox["script"] == SCRIPTS["fox"]
    assert exists(s3_conn, summary["output_dir"] + "/_SUCCESS")


def test_rerun_reuses_the_committed_parts(full_stack, s3_conn, bucket, bytes_input):
    params = dict(input_uri=bytes_input, output_uri=f"s3://{bucket}/out-asr/", max_audio_s=30, shard_rows=6,
                  passthrough_columns=["script"])
    _, first = run(**params)
    before = part_versions(s3_conn, first["output_dir"])
    state, second = run(**params)
    assert state.is_completed() and second["run_key"] == first["run_key"]
    assert part_versions(s3_conn, second["output_dir"]) == before  # nothing rewritten
    assert len([k for k in before if "/quarantine/" not in k]) == 3  # one kept part per shard


def test_uri_rows_fetch_audio_objects_and_report_missing_ones(full_stack, s3_conn, bucket):
    upload_uri_dataset(s3_conn, S3Uri(bucket, "speech-uris"))
    state, summary = run(input_uri=f"s3://{bucket}/speech-uris/", output_uri=f"s3://{bucket}/out-asr-uris/",
                         audio_uri_column="audio_uri")
    assert state.is_completed(), summary
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, COLUMNS)}
    assert summary["status_counts"] == {"ok": 7, "failed": 1}
    assert rows["bad-missing-object"]["error"] == f"audio object s3://{bucket}/audio/missing.wav not found"
    assert "send the report" in rows["report"]["transcript"].lower()


def test_a_categorical_id_and_binary_view_audio_are_read_as_plain_columns(full_stack, s3_conn, bucket):
    clips = fixture_clips()[:2]
    table = pa.table({"id": pa.array([c["id"] for c in clips]).dictionary_encode(),
                      "audio": pa.array([c["bytes"] for c in clips], pa.binary_view())})
    upload_table(s3_conn, S3Uri(bucket, "speech-typed/clips.parquet"), table)
    state, summary = run(input_uri=f"s3://{bucket}/speech-typed/", output_uri=f"s3://{bucket}/out-asr-typed/")
    assert state.is_completed(), summary
    rows = read_run_rows(s3_conn, summary, COLUMNS)
    assert sorted(r["id"] for r in rows) == sorted(c["id"] for c in clips) and summary["status_counts"] == {"ok": 2}


def test_object_without_the_audio_column_fails_the_run_not_the_others(full_stack, s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "speech-mixed/good.parquet"),
                 pa.table({"id": [1], "audio": pa.array([fixture_clips()[1]["bytes"]], pa.binary())}))
    upload_table(s3_conn, S3Uri(bucket, "speech-mixed/text.parquet"), pa.table({"id": [1], "text": ["hello"]}))
    state, summary = run(input_uri=f"s3://{bucket}/speech-mixed/", output_uri=f"s3://{bucket}/out-asr-mixed/")
    assert state.is_failed() and "1 objects (of 2) failed (fix the input)" in str(summary)
    listing = s3_conn.boto3_client().list_objects_v2(Bucket=bucket, Prefix="out-asr-mixed/")["Contents"]
    [manifest_key] = [o["Key"] for o in listing if o["Key"].endswith("manifest.json")]
    manifest = json.loads(s3_conn.boto3_client().get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    errors = {i["uri"].rsplit("/", 1)[-1]: i["error"] for i in manifest["inputs"]}
    assert errors["good.parquet"] is None and "audio column 'audio' not found" in errors["text.parquet"]
    assert manifest["status_counts"] == {"ok": 1}


def test_subtitles_and_split_channels_through_the_flow(full_stack, s3_conn, bucket, bytes_input):
    """`subtitles` writes one file per transcribed clip and format; `channels=split` gives one
    transcript per channel (the stereo fixture: two channels) and labels the merged segments."""
    state, summary = run(input_uri=bytes_input, output_uri=f"s3://{bucket}/out-asr-subs/", max_audio_s=30,
                         shard_rows=6, subtitles=["vtt", "srt"], channels="split", word_timestamps=True,
                         max_quarantined_share=1.0)
    assert state.is_completed(), summary
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, ["id", "status", "segments", "channel_transcripts"])}
    stereo = rows["stereo"]
    assert len(stereo["channel_transcripts"]) == 2
    assert {s.get("channel") for s in json.loads(stereo["segments"])} <= {0, 1}
    root = S3Uri.parse(summary["output_dir"]).join("subtitles")
    keys = {o["Key"].rsplit("/", 1)[1] for o in s3_conn.boto3_client().list_objects_v2(
        Bucket=root.bucket, Prefix=root.prefix).get("Contents", [])}
    heard = [i for i, r in rows.items() if r["status"] in ("ok", "flagged") and r["segments"] not in (None, "[]")]
    assert heard and {f"{i}.vtt" for i in heard} | {f"{i}.srt" for i in heard} <= keys
    vtt = s3_conn.boto3_client().get_object(Bucket=root.bucket, Key=f"{root.prefix}fox.vtt")["Body"].read().decode()
    assert vtt.startswith("WEBVTT") and "-->" in vtt
