"""The ASR guards inside a transcribe shard, on the real stack (SeaweedFS + Triton's Whisper).

Multilingual Whisper base decoding without VAD or its own silence gate may write anything on noise
and silence ('...' in language `nn` on one CPU, 'you' on another, nothing on a third): the test
asserts the rules on whatever it decodes, never one decoding.

* non-words ('...', '♪', '[Music]') are empty text, guarded or not: never `ok` with such text;
* guarded, a non-speech clip ends `ok` with an empty transcript (the silent clip's status) or
  `flagged` with its reasons (quarantined) — never `ok` with text;
* speech passes untouched, and every flagged row is in the quarantine count.
"""
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deployments.demo_data import upload_table
from tasks.engine.prefect_tasks import process_shard
from tasks.guards.asr.nonwords import is_non_words
from tasks.inference.asr_client import asr_parameters
from tasks.inference.client import TritonCallSettings
from tasks.io.listing import list_objects
from tasks.io.s3_uri import S3Uri
from tasks.transcribe.audio_columns import AudioColumns, plan_audio_object
from tasks.transcribe.batch import TranscribeSettings
from tasks.transcribe.guard import TranscriptGuard
from tasks.transcribe.stage import TranscribeStage

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
RAW_BASE = asr_parameters(vad_filter=False, model="whisper-base", no_speech_threshold=1.0, temperature_increment=0.0)
NON_SPEECH = ("noise", "silence", "tone")


def _tone_wav(seconds: float = 3.0) -> bytes:
    import wave

    t = np.arange(int(seconds * 16000)) / 16000
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1), writer.setsampwidth(2), writer.setframerate(16000)
        writer.writeframes((0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16).tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def shard(s3_conn, bucket, triton_stack):
    clips = {"fox": (FIXTURES / "fox.wav").read_bytes(), "noise": (FIXTURES / "noise.ogg").read_bytes(),
             "silence": (FIXTURES / "silence.wav").read_bytes(), "tone": _tone_wav()}
    table = pa.table({"id": list(clips), "audio": list(clips.values())})
    upload_table(s3_conn, S3Uri(bucket, "asr-guard/in.parquet"), table)
    [obj] = list_objects(s3_conn, f"s3://{bucket}/asr-guard/in.parquet")
    [only] = plan_audio_object(s3_conn, obj, AudioColumns(id="id", audio="audio"), shard_rows=10).shards
    return only


def rows_of(conn, result) -> dict[str, dict]:
    rows = {}
    for uri in filter(None, (result.output_uri, result.quarantine_uri)):
        target = S3Uri.parse(uri)
        body = conn.boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
        rows |= {r["id"]: r for r in pq.read_table(io.BytesIO(body)).to_pylist()}
    return rows


def transcribe(conn, shard, stack, bucket, guard, name):
    triton = TritonCallSettings(url=stack.triton_grpc_url, model_name="transcribe", batch_size=4, timeout_s=300,
                                max_retries=2, decoding=RAW_BASE)
    settings = TranscribeSettings(columns=AudioColumns(id="id", audio="audio"), triton=triton, guard=guard)
    return process_shard(conn, shard, TranscribeStage(settings), f"s3://{bucket}/asr-guard-out/{name}")


@pytest.fixture(scope="module")
def unguarded(s3_conn, bucket, shard, triton_stack):
    rows = rows_of(s3_conn, transcribe(s3_conn, shard, triton_stack, bucket, None, "unguarded"))
    if rows["fox"]["status"] == "failed" and "no transcribe model" in (rows["fox"]["error"] or ""):
        pytest.skip("whisper-base is not loaded on this Triton")
    return rows


def test_non_words_are_empty_text_with_or_without_the_guard(unguarded):
    for key, row in unguarded.items():
        print(f"  unguarded {key}: {row['status']} {row['transcript']!r} ({row['language']})")
        assert row["status"] == "ok", row
        assert row["transcript"] == "" or not is_non_words(row["transcript"]), row  # '...' -> ''
        if row["transcript"] == "":
            assert row["no_speech_prob"] == 1.0 and row["compression_ratio"] == 0.0  # the silent clip's values


def test_no_non_speech_clip_is_ok_with_text_when_guarded(s3_conn, bucket, shard, triton_stack, unguarded):
    result = transcribe(s3_conn, shard, triton_stack, bucket, TranscriptGuard(), "guarded")
    guarded = rows_of(s3_conn, result)
    assert set(guarded) == {"fox", *NON_SPEECH} and result.guard_seconds > 0
    fox = guarded["fox"]
    assert fox["status"] == "ok" and not fox["redecoded"] and "fox" in fox["transcript"].lower(), fox
    assert fox["missing_speech_s"] is not None and fox["missing_speech_s"] < 1.5
    for key in NON_SPEECH:
        row = guarded[key]
        print(f"  guarded {key}: {row['status']} {row['transcript']!r} redecoded={row['redecoded']} {row['reasons']}")
        empty_ok = row["status"] == "ok" and row["transcript"] == ""
        assert empty_ok or (row["status"] == "flagged" and row["reasons"]), row
        if not is_non_words(unguarded[key]["transcript"]):  # text on non-speech was retried
            assert row["redecoded"], row
    assert result.quarantined == sum(r["status"] == "flagged" for r in guarded.values())
