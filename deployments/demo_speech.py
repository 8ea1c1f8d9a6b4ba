"""Speech demo: spoken English clips (espeak-ng, shipped in tests/fixtures/audio/), a silence clip,
a noise clip and some bad rows -> transcribe-batch (audio bytes in parquet) and speech-translate
(s3:// audio URIs, to German) through the local stack, with transcripts, statuses and the WER printed.

`run_speech_demo()` is what `make demo` and `sentinel demo-speech` call (the `sentinel` sub-commands
live in deployments/cli.py; this module does not import it).
"""
from __future__ import annotations

import io
import json
import sys
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.io.s3_uri import S3Uri  # stdlib only: keep this module light to import

if TYPE_CHECKING:
    import pyarrow as pa

    from tasks.io.s3 import S3Connection

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"
DEMO_MAX_AUDIO_S = 30.0


def fixture_clips() -> list[dict]:
    """clips.json entries, each with its `bytes`."""
    clips = json.loads((FIXTURES / "clips.json").read_text())
    return [clip | {"bytes": (FIXTURES / clip["file"]).read_bytes()} for clip in clips]


def long_wav(seconds: float, rate: int = 16000) -> bytes:
    """A silent 16-bit mono WAV of `seconds` (over the demo's max_audio_s: rejected before decoding)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1), writer.setsampwidth(2), writer.setframerate(rate)
        writer.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


BAD_ROWS = [  # (id, audio bytes or None, what it shows)
    ("bad-undecodable", b"this is not audio" * 20, "undecodable bytes"),
    ("bad-empty", b"", "an empty file"),
    ("bad-too-long", long_wav(DEMO_MAX_AUDIO_S + 5), f"audio over max_audio_s={DEMO_MAX_AUDIO_S:g}"),
    ("no-audio", None, "a null cell: skipped_empty"),
]


def bytes_table() -> pa.Table:
    """Rows carrying the encoded audio itself (`audio` binary column) + the script that was spoken."""
    import pyarrow as pa

    clips = fixture_clips()
    ids = [c["id"] for c in clips] + [r[0] for r in BAD_ROWS]
    audio = [c["bytes"] for c in clips] + [r[1] for r in BAD_ROWS]
    scripts = [c["text"] for c in clips] + [None] * len(BAD_ROWS)
    return pa.table({"id": ids, "audio": pa.array(audio, pa.binary()), "script": pa.array(scripts, pa.string())})


def upload_uri_dataset(conn: S3Connection, prefix: S3Uri) -> pa.Table:
    """Clips uploaded as objects under <prefix>/../audio/, rows naming them (`audio_uri`), plus a
    URI whose object does not exist; returns the table (also written to <prefix>/clips.parquet)."""
    import pyarrow as pa

    from deployments.demo_data import upload_table

    client = conn.boto3_client()
    parent = prefix.key.rstrip("/").rpartition("/")[0]  # audio lives beside the input prefix, not in it
    audio_dir = S3Uri(prefix.bucket, f"{parent}/audio" if parent else "audio")
    ids, uris, scripts = [], [], []
    for clip in fixture_clips():
        target = audio_dir.join(clip["file"])
        client.put_object(Bucket=target.bucket, Key=target.key, Body=clip["bytes"])
        ids.append(clip["id"]), uris.append(str(target)), scripts.append(clip["text"])
    ids.append("bad-missing-object"), uris.append(str(audio_dir.join("missing.wav"))), scripts.append(None)
    table = pa.table({"id": ids, "audio_uri": uris, "script": pa.array(scripts, pa.string())})
    upload_table(conn, prefix.join("clips.parquet"), table, row_group_size=8)
    return table


def read_run_rows(conn: S3Connection, summary: dict, columns: list[str]) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for shard in summary.get("shards", []):
        for part in (shard.get("output_uri"), shard.get("quarantine_uri")):  # kept rows, quarantined rows
            if part:
                target = S3Uri.parse(part)
                body = conn.boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
                rows += pq.read_table(io.BytesIO(body), columns=columns).to_pylist()
    return rows


def spoken_wer(rows: list[dict], scripts: dict[str, str]) -> float:
    # WER is evaluation code (bench/wer.py, on jiwer), not part of the installed package: the demo runs
    # from the checkout (`make demo`), so it reads it from there
    checkout = str(Path(__file__).resolve().parents[1])
    if checkout not in sys.path:
        sys.path.append(checkout)
    from bench.wer import word_error_rate

    spoken = [r for r in rows if scripts.get(r["id"]) and r["status"] != "failed"]
    return word_error_rate([scripts[r["id"]] for r in spoken], [r["transcript"] or "" for r in spoken])


def print_rows(title: str, state, summary, rows: list[dict], extra: str | None = None) -> None:
    print(f"\n=== {title}: {state.name} ===")
    if not isinstance(summary, dict):
        print(f"run failed: {summary}")
        return
    print(f"{summary.get('headline', state.name)}\noutput: {summary['output_dir']}/   rows {summary['rows']} "
          f"{summary['status_counts']}   {summary['seconds']} s")
    for row in sorted(rows, key=lambda r: r["id"]):
        detail = row["error"] if row["status"] == "failed" else repr(row["transcript"])
        if extra and row.get(extra):
            detail += f"  ->  {row[extra]!r}"
        print(f"  {row['id']:20s} {row['status']:14s} {detail}")


def run_speech_demo(bucket: str = "sentinel-demo", target_lang: str = "de") -> int:
    from blocks.register import register_blocks
    from deployments.demo_data import demo_quarantine_limit, ensure_bucket, upload_table
    from flows.speech_translate import speech_translate
    from flows.transcribe_batch import transcribe_batch
    from tasks.io.s3 import S3Connection

    conn = S3Connection.from_env()
    register_blocks()
    ensure_bucket(conn, bucket)
    scripts = {c["id"]: c["text"] for c in fixture_clips()}
    upload_table(conn, S3Uri(bucket, "inputs/speech-bytes/clips.parquet"), bytes_table(), row_group_size=8)
    upload_uri_dataset(conn, S3Uri(bucket, "inputs/speech-uris"))
    base = ["id", "status", "error", "transcript", "language", "speech_s"]

    state = transcribe_batch(input_uri=f"s3://{bucket}/inputs/speech-bytes/", output_uri=f"s3://{bucket}/outputs/speech/",
                             max_audio_s=DEMO_MAX_AUDIO_S, return_state=True)
    summary = state.result(raise_on_failure=False)
    rows = read_run_rows(conn, summary, base) if isinstance(summary, dict) else []
    print_rows("transcribe-batch (audio bytes in parquet)", state, summary, rows)
    print(f"WER of the spoken clips (whisper-tiny.en vs the espeak-ng scripts): {spoken_wer(rows, scripts):.1%}")

    state2 = speech_translate(input_uri=f"s3://{bucket}/inputs/speech-uris/", output_uri=f"s3://{bucket}/outputs/speech-de/",
                              audio_uri_column="audio_uri", target_lang=target_lang, return_state=True,
                              **demo_quarantine_limit(speech_translate))  # tiny translate model: noise
    summary2 = state2.result(raise_on_failure=False)
    rows2 = read_run_rows(conn, summary2, base + ["translation"]) if isinstance(summary2, dict) else []
    print_rows(f"speech-translate (s3:// URIs, en -> {target_lang})", state2, summary2, rows2, extra="translation")
    print("\nNOTE: translations come from the TINY random-weight Marian model built by `make models` "
          "(noise); the transcripts come from the real Whisper tiny.en.")
    return 0 if state.is_completed() and state2.is_completed() else 1

