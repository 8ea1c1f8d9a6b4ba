"""Audio inputs: schema checks, per-row checks, s3:// fetches, and the ASR client's bad-row isolation."""
from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from tasks.inference.asr_client import AsrResult, TritonAsrClient
from tasks.inference.client import TritonCallSettings, TritonRequestRejected
from tasks.io.parquet import InputError
from tasks.transcribe.audio_columns import AudioColumns, validate_audio_schema
from tasks.transcribe.audio_fetch import check_audio_bytes, fetch_audio_object, load_audio_cells


def test_exactly_one_audio_column():
    with pytest.raises(ValueError, match="exactly one"):
        AudioColumns(audio="audio", audio_uri="uri")
    with pytest.raises(ValueError, match="exactly one"):
        AudioColumns(audio=None, audio_uri=None)
    assert AudioColumns(audio=None, audio_uri="uri", passthrough=("id", "lang")).read == ["id", "uri", "lang"]


@pytest.mark.parametrize("schema, columns, message", [
    (pa.schema([("id", pa.int64())]), AudioColumns(), "audio column 'audio' not found"),
    (pa.schema([("id", pa.int64()), ("audio", pa.string())]), AudioColumns(), "has type string, expected binary"),
    (pa.schema([("id", pa.int64()), ("uri", pa.binary())]), AudioColumns(audio=None, audio_uri="uri"),
     "audio URI column 'uri' has type binary, expected string"),
    (pa.schema([("id", pa.float64()), ("audio", pa.binary())]), AudioColumns(), "id column 'id' has type double"),
])
def test_schema_errors_name_the_object_and_column(schema, columns, message):
    with pytest.raises(InputError, match=message) as info:
        validate_audio_schema(schema, "s3://b/in/x.parquet", columns)
    assert str(info.value).startswith("s3://b/in/x.parquet: ")


def test_good_schemas_pass():
    validate_audio_schema(pa.schema([("id", pa.string()), ("audio", pa.large_binary())]), "u", AudioColumns())
    validate_audio_schema(pa.schema([("id", pa.int32()), ("uri", pa.string())]), "u", AudioColumns(audio=None, audio_uri="uri"))


def test_bytes_cells_empty_null_and_oversized():
    cells = load_audio_cells(None, [b"RIFF....", None, b"", b"x" * 11], from_uri=False, max_bytes=10)
    assert cells[0].data == b"RIFF...." and cells[1].empty
    assert cells[2].error == "audio is empty (0 bytes)"
    assert cells[3].error == "audio is 11 bytes, over max_audio_bytes=10"
    assert check_audio_bytes(b"abc", 10).error is None


@pytest.mark.integration
def test_uri_cells_fetch_objects_and_explain_failures(s3_conn, bucket):
    client = s3_conn.boto3_client()
    client.put_object(Bucket=bucket, Key="audio/a.wav", Body=b"RIFFdata")
    client.put_object(Bucket=bucket, Key="audio/empty.wav", Body=b"")
    uris = [f"s3://{bucket}/audio/a.wav", f"s3://{bucket}/audio/missing.wav", f"s3://{bucket}/audio/empty.wav",
            "http://example.invalid/a.wav", None, "  ", "s3://no-such-bucket-sentinel-test/a.wav"]
    cells = load_audio_cells(s3_conn, uris, from_uri=True, max_bytes=1000)
    assert cells[0].data == b"RIFFdata"
    assert cells[1].error == f"audio object s3://{bucket}/audio/missing.wav not found"
    assert cells[2].error == f"audio object s3://{bucket}/audio/empty.wav is empty (0 bytes)"
    assert "is not valid" in cells[3].error
    assert cells[4].empty and cells[5].empty
    assert "not found" in cells[6].error
    assert "over max_audio_bytes=4" in fetch_audio_object(s3_conn, uris[0], max_bytes=4).error


def test_asr_client_isolates_the_bad_clip_of_a_rejected_request():
    """A request with one bad clip is rejected whole; the client re-sends clip by clip."""
    sent: list[list[bytes]] = []

    async def fake_infer(self, clips, language, decoding=None, prompts=None):
        sent.append(list(clips))
        if b"bad" in clips:
            try:
                raise RuntimeError("undecodable audio (3 bytes)")
            except RuntimeError as exc:
                raise TritonRequestRejected("rejected") from exc
        return [AsrResult(text=c.decode(), model="fake") for c in clips]

    async def go():
        client = TritonAsrClient(TritonCallSettings(url="127.0.0.1:1", model_name="transcribe", batch_size=3))
        client._infer_clips = fake_infer.__get__(client)
        try:
            return await client.transcribe([b"a", b"bad", b"c", b"d"])
        finally:
            await client.close()

    results = asyncio.run(go())
    assert [r.text for r in results] == ["a", None, "c", "d"]
    assert results[1].error == "rejected"  # not an InferenceServerException: the wrapper's message
    assert sent[0] == [b"a", b"bad", b"c"] and sorted(map(tuple, sent[1:])) == [(b"a",), (b"bad",), (b"c",), (b"d",)]
