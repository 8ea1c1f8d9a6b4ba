"""ASR benchmark: the transcribe-batch pipeline vs direct tritonclient calls on the same model and clips.

    .venv/bin/python bench/asr_bench.py            # needs the local stack (make stack-up) with the Whisper models

Clips = the spoken fixture clips (tests/fixtures/audio/, espeak-ng, 3.4-3.8 s each) repeated to
BENCH_ASR_CLIPS (default 96). **Direct** = the clip bytes already in memory sent with the pipeline's
own async client (TritonAsrClient: 4 clips per request, 8 requests in flight). **Per-row** = the same
client with one clip per request and one request at a time, on BENCH_ASR_PER_ROW_CLIPS clips. **Pipeline** = the
whole flow through the Prefect server with its defaults (guards and data-quality suites on): list
S3, plan shards, stream parquet, Triton, guard every transcript, write parts + manifest. It also
runs on a quarter of the clips (marginal rate = extra clips ÷ extra seconds, without the per-run
fixed cost) and with guards off (what the ASR guards cost end to end). Real-time factor (RTF) = wall seconds / audio seconds (lower is faster). Writes
bench/results/asr.json; figures are ratios from one run on one machine, not promises.
"""
from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deployments.cli import use_local_stack_env  # noqa: E402

use_local_stack_env()

import pyarrow as pa  # noqa: E402

from deployments.demo_data import ensure_bucket, upload_table  # noqa: E402
from deployments.demo_speech import fixture_clips  # noqa: E402
from tasks.io.s3 import S3Connection  # noqa: E402
from tasks.io.s3_uri import S3Uri  # noqa: E402

BUCKET = "sentinel-bench"
CLIPS = int(os.environ.get("BENCH_ASR_CLIPS", 96))
PER_ROW_CLIPS = int(os.environ.get("BENCH_ASR_PER_ROW_CLIPS", 8))


def bench_clips(count: int) -> tuple[list[bytes], float]:
    spoken = [c for c in fixture_clips() if c["speech"]]
    picked = [spoken[i % len(spoken)] for i in range(count)]
    return [c["bytes"] for c in picked], sum(c["seconds"] for c in picked)


def write_input(conn: S3Connection, clips: list[bytes]) -> str:
    prefix = f"s3://{BUCKET}/inputs/asr-{len(clips)}/"
    table = pa.table({"id": [f"clip-{i:05d}" for i in range(len(clips))], "audio": pa.array(clips, pa.binary())})
    upload_table(conn, S3Uri.parse(prefix).join("clips.parquet"), table, row_group_size=20)
    return prefix


def run_direct(clips: list[bytes], clips_per_request: int = 4, concurrency: int | None = None) -> float:
    """Batched async calls with the pipeline's own client; with (1, 1): one synchronous clip per request."""
    from dataclasses import replace

    from flows.job import load_triton
    from flows.stage_builders import asr_call_settings
    from tasks.inference.asr_client import TritonAsrClient

    settings = asr_call_settings(load_triton(None), asr_model="default", vad_filter=True, beam_size=1,
                                 max_audio_s=600, clips_per_request=clips_per_request, request_timeout_s=900)
    if concurrency:
        settings = replace(settings, concurrency=concurrency)

    async def go() -> int:
        async with TritonAsrClient(settings) as client:
            results = await client.transcribe(clips)
        assert not any(r.error for r in results), [r.error for r in results if r.error][:3]
        return len(results)

    started = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - started


def run_pipeline(input_uri: str, guards: bool = True) -> tuple[float, dict]:
    """The flow with its own defaults (shard size, guards, data quality), guards optionally off."""
    from flows.transcribe_batch import transcribe_batch

    started = time.perf_counter()
    state = transcribe_batch(input_uri=input_uri, output_uri=f"s3://{BUCKET}/outputs/asr-{int(time.time() * 1000)}/",
                             guards=guards, return_state=True, triton_endpoint=None)
    seconds = time.perf_counter() - started
    return seconds, state.result()


def figures(seconds: float, clips: int, audio_s: float) -> dict:
    return {"seconds": round(seconds, 3), "clips_per_s": round(clips / seconds, 2), "rtf": round(seconds / audio_s, 4)}


def main() -> None:
    conn = S3Connection.from_env()
    ensure_bucket(conn, BUCKET)
    clips, audio_s = bench_clips(CLIPS)
    input_uri = write_input(conn, clips)
    run_direct(clips[:4])  # warm-up
    direct = figures(run_direct(clips), len(clips), audio_s)
    pipeline_s, summary = run_pipeline(input_uri)
    pipeline = figures(pipeline_s, len(clips), audio_s)
    small_clips, _ = bench_clips(len(clips) // 4)
    small_s, _ = run_pipeline(write_input(conn, small_clips))
    marginal = (len(clips) - len(small_clips)) / (pipeline_s - small_s) if pipeline_s > small_s else None
    no_guards_s, _ = run_pipeline(input_uri, guards=False)
    sample, sample_audio_s = bench_clips(min(PER_ROW_CLIPS, len(clips)))
    per_row = figures(run_direct(sample, clips_per_request=1, concurrency=1), len(sample), sample_audio_s)
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "gpu": None,
                    "load_1m": round(os.getloadavg()[0], 2)},
        "model": "transcribe (whisper-tiny.en, int8, CPU instance), vad_filter=true, beam_size=1",
        "clips": len(clips), "audio_seconds": round(audio_s, 2),
        "direct": direct, "pipeline": pipeline | {"status_counts": summary["status_counts"], "shards": len(summary["shards"])},
        "per_row": per_row | {"clips": len(sample)},
        "pipeline_over_direct": round(direct["seconds"] / pipeline["seconds"], 3),
        "pipeline_over_per_row": round(pipeline["clips_per_s"] / per_row["clips_per_s"], 2),
        "small_pipeline": {"clips": len(small_clips), "seconds": round(small_s, 3)},
        "pipeline_marginal_clips_per_s": marginal and round(marginal, 2),
        "marginal_over_direct": marginal and round(marginal / direct["clips_per_s"], 3),
        "fixed_seconds_estimate": marginal and round(small_s - len(small_clips) / marginal, 3),
        "pipeline_no_guards": figures(no_guards_s, len(clips), audio_s),
        "guards_share_of_run": round(1 - no_guards_s / pipeline_s, 3),
    }
    out = ROOT / "bench" / "results" / "asr.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
