"""The similarity guard's encoder in the flow process vs Triton's `embed` model, side by side in
one run (issue 14), written to bench/results/embed.json:

1. guard scoring (score_translations, every MT detector, the shipped settings) over distinct
   dev-set rows, in-process encoder vs `embed`, alternated twice: rows/s per flow-process core
   (rows / this process's CPU seconds, its gRPC threads included), flow-process CPU us per
   guarded row, wall rows/s, and Triton's CPU us per row (the server's process tree);
2. the `embed` model direct: texts/s by request batch size (4 requests in flight), with the
   in-process encoder's texts/s on one core beside it;
3. translate-batch rows/s (translate_and_guard on the tiny Marian model), guarded / unguarded
   with each encoder;
4. the ASR guards' flow-process cost (score_transcripts per clip) and what silero VAD costs
   per audio second (it runs inside the `transcribe` model, on Triton's CPU).

    python bench/embed_bench.py [--triton-url HOST:PORT] [--rows N]

Triton comes from the local stack (SENTINEL_TRITON_URL / the stack's ports; its CPU from the
stack's pid file). No GPU figures:
`configs/gpu.pbtxt` has not been run on a GPU.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, now, write_result

ROWS = int(os.environ.get("BENCH_EMBED_ROWS", 2_000))
BATCH_SIZES = (1, 8, 32, 128, 512)
DIRECT_TEXTS = 2_048
DEV_SET = ROOT.parent / "shared" / "data" / "mt_hallucination_dev.csv"
NO_GPU = ("no GPU figures exist: this machine has no GPU and no GPU machine was available; "
          "triton/model_repository/embed/configs/gpu.pbtxt (ONNX Runtime CUDA provider) is unmeasured")


def distinct_rows(rows: int) -> tuple[list[str], list[str]]:
    """Dev-set source/translation pairs made distinct with a row number, so nothing is deduplicated."""
    with open(DEV_SET, newline="", encoding="utf-8") as handle:
        pairs = [(r["src"], r["mt"]) for r in csv.DictReader(handle)]
    return ([f"{pairs[i % len(pairs)][0]} ({i})" for i in range(rows)],
            [f"{pairs[i % len(pairs)][1]} ({i})" for i in range(rows)])


class ServerCpu:
    """CPU seconds of the local stack's Triton: every process in its process group (the server
    and its python-backend stubs; the launcher starts it in a session of its own), from /proc."""

    def __init__(self):
        from deployments.stack.config import StackConfig
        from deployments.stack.processes import read_pid

        self.group = read_pid(StackConfig().state_dir, "triton")
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float | None:
        if not self.group:
            return None
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # a process that just exited
                continue
            if int(fields[2]) == self.group:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / self.tick


def _timed(fn, server: ServerCpu) -> dict:
    cpu, wall, srv = time.process_time(), time.perf_counter(), server.seconds()
    fn()
    out = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
    after = server.seconds()
    out["server_cpu_s"] = None if srv is None or after is None else after - srv
    return out


def guard_scoring(url: str, rows: int, server: ServerCpu) -> dict:
    from tasks.guards.mt.checker import score_translations
    from tasks.guards.mt.settings import MTGuardSettings

    src, mt = distinct_rows(rows)
    langs = (["de"] * rows, ["en"] * rows)
    settings = {"in_process": MTGuardSettings(), "triton": MTGuardSettings()}
    settings["triton"].similarity.triton_url = url
    no_similarity = MTGuardSettings()
    no_similarity.similarity.enabled = False
    settings["no_similarity"] = no_similarity
    for s in settings.values():  # load the encoder / open the channel outside the timing
        score_translations(src[:8], mt[:8], langs[0][:8], langs[1][:8], None, s)
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    for _ in range(2):  # alternated: both see the same machine load
        for name, s in settings.items():
            runs[name].append(_timed(lambda s=s: score_translations(src, mt, *langs, None, s), server))
    out = {}
    for name, measured in runs.items():
        best = min(measured, key=lambda m: m["cpu_s"])
        out[name] = {
            "rows_per_s_per_flow_core": round(rows / best["cpu_s"]),
            "flow_cpu_us_per_row": round(best["cpu_s"] / rows * 1e6),
            "wall_rows_per_s": round(rows / best["wall_s"]),
            "triton_cpu_us_per_row": (None if best["server_cpu_s"] is None
                                      else round(best["server_cpu_s"] / rows * 1e6)),
            "runs": [{k: (None if v is None else round(v, 3)) for k, v in m.items()} for m in measured],
        }
    out["flow_core_gain"] = round(out["triton"]["rows_per_s_per_flow_core"]
                                  / out["in_process"]["rows_per_s_per_flow_core"], 2)
    return out


def direct(url: str, server: ServerCpu) -> dict:
    from tasks.guards.mt.similarity import embed
    from tasks.inference.embed_client import TritonEmbedClient, embed_settings

    src, mt = distinct_rows(DIRECT_TEXTS // 2)
    texts = src + mt
    embed(texts[:8])
    local = _timed(lambda: embed(texts), server)
    out = {"texts": len(texts), "in_process_texts_per_s_one_core": round(len(texts) / local["cpu_s"]),
           "by_batch_size": {}}

    async def send(batch_size: int) -> None:
        async with TritonEmbedClient(embed_settings(url, batch_size=batch_size, concurrency=4)) as client:
            await client.embed(texts)

    for batch_size in BATCH_SIZES:
        asyncio.run(send(batch_size))  # warm
        measured = _timed(lambda b=batch_size: asyncio.run(send(b)), server)
        out["by_batch_size"][str(batch_size)] = {
            "texts_per_s": round(len(texts) / measured["wall_s"]),
            "triton_cpu_us_per_text": (None if measured["server_cpu_s"] is None
                                       else round(measured["server_cpu_s"] / len(texts) * 1e6)),
            "client_cpu_us_per_text": round(measured["cpu_s"] / len(texts) * 1e6),
        }
    return out


def translate_batches(url: str, rows: int, server: ServerCpu) -> dict:
    """translate_and_guard (the shard's per-batch function) on the tiny Marian `translate` model:
    unguarded vs guarded with each encoder, scoring only (no re-decoding: the tiny model's noise
    would be flagged and re-decoded whole, which measures the retry, not the encoder)."""
    import pyarrow as pa

    from tasks.engine.guard_clock import GuardClock
    from tasks.guards.mt.settings import MTGuardSettings
    from tasks.inference.client import TritonCallSettings
    from tasks.inference.translate_client import TritonTranslateClient
    from tasks.translate.batch import TranslateSettings, translate_and_guard
    from tasks.translate.guard import TranslationGuard

    src, _ = distinct_rows(rows)
    batch_rows = 500
    records = [pa.RecordBatch.from_pydict({"id": list(range(i, i + batch_rows)), "text": src[i:i + batch_rows]})
               for i in range(0, rows, batch_rows)]
    on_triton = MTGuardSettings()
    on_triton.similarity.triton_url = url
    guards = {"unguarded": None, "guarded_in_process": TranslationGuard(MTGuardSettings(), redecode=None),
              "guarded_embed": TranslationGuard(on_triton, redecode=None)}
    triton = TritonCallSettings(url=url, model_name="translate", batch_size=32, concurrency=8)

    async def shard(guard) -> None:
        settings = TranslateSettings(text_column="text", id_column="id", target_lang="en", source_lang="de",
                                     triton=triton, guard=guard)
        async with TritonTranslateClient(triton) as client:
            clock = GuardClock()
            for i in range(0, len(records), 2):  # two batches in flight, as shard threads overlap them
                await asyncio.gather(*(translate_and_guard(client, r, settings, clock) for r in records[i:i + 2]))

    runs: dict[str, list[dict]] = {name: [] for name in guards}
    for _ in range(2):
        for name, guard in guards.items():
            runs[name].append(_timed(lambda g=guard: asyncio.run(shard(g)), server))
    out = {"rows": rows, "model": "translate (tiny random-weight Marian de-en, CPU)"}
    for name, measured in runs.items():
        best = min(measured, key=lambda m: m["wall_s"])
        out[name] = {"wall_rows_per_s": round(rows / best["wall_s"]), "flow_cpu_us_per_row":
                     round(best["cpu_s"] / rows * 1e6), "triton_cpu_us_per_row": (
                         None if best["server_cpu_s"] is None else round(best["server_cpu_s"] / rows * 1e6))}
    for name in ("guarded_in_process", "guarded_embed"):
        out[name]["guarded_over_unguarded_wall"] = round(out[name]["wall_rows_per_s"]
                                                         / out["unguarded"]["wall_rows_per_s"], 3)
        out[name]["guarded_over_unguarded_per_flow_core"] = round(out["unguarded"]["flow_cpu_us_per_row"]
                                                                  / out[name]["flow_cpu_us_per_row"], 3)
    return out


def asr_guard_cost(clips: int = 2_000) -> dict:
    """The ASR guards' scoring in the flow process: arithmetic on the `transcribe` model's outputs."""
    from tasks.guards.asr.batch import TranscriptBatch
    from tasks.guards.asr.checker import score_transcripts

    rng = np.random.default_rng(0)
    words = "the of and to in a is that for it as was with be by on not he this are or his from".split()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 40)))) for _ in range(clips)]
    duration = rng.uniform(2, 30, clips)
    batch = TranscriptBatch.build(texts, rng.uniform(-1.5, -0.1, clips), rng.uniform(0, 0.9, clips),
                                  rng.uniform(1.0, 3.0, clips), duration, duration * rng.uniform(0, 1, clips),
                                  ["en"] * clips)
    score_transcripts(batch)
    cpu = time.process_time()
    score_transcripts(batch)
    return {"clips": clips, "flow_cpu_us_per_clip": round((time.process_time() - cpu) / clips * 1e6)}


VAD_PROBE = """
import json, time, numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
rng = np.random.default_rng(0)
sr, seconds = 16000, 120
t = np.arange(sr * seconds) / sr
audio = (0.1 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.2 * t) > 0) + 0.01 * rng.standard_normal(t.size))
audio = audio.astype(np.float32)
get_speech_timestamps(audio[: sr * 5], VadOptions())
cpu = time.process_time()
get_speech_timestamps(audio, VadOptions())
print(json.dumps({"audio_s": seconds, "cpu_ms_per_audio_s": round((time.process_time() - cpu) / seconds * 1000, 2)}))
"""


def vad_cost() -> dict:
    """silero VAD (faster-whisper's ONNX model, as the `transcribe` model runs it) per audio second."""
    python = ROOT / ".venv-triton" / "bin" / "python"
    if not python.exists():
        return {"skipped": ".venv-triton missing"}
    proc = subprocess.run([str(python), "-P", "-c", VAD_PROBE], capture_output=True, text=True, timeout=300,
                          cwd="/tmp", env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode != 0:
        return {"skipped": proc.stderr[-500:]}
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(url: str | None = None, rows: int = ROWS) -> dict:
    from deployments.stack.config import StackConfig

    url = url or os.environ.get("SENTINEL_TRITON_URL") or StackConfig().triton_grpc_url
    server = ServerCpu()
    doc = {"when": now(), "triton_url": url, "rows": rows, "gpu": NO_GPU,
           "embed_config": (ROOT / "triton/model_repository/embed/config.pbtxt").read_text().split("parameters")[1]
           .strip()}
    doc["guard_scoring"] = guard_scoring(url, rows, server)
    doc["direct"] = direct(url, server)
    doc["translate_batches"] = translate_batches(url, min(rows, 1_000), server)
    doc["asr_guards"] = {"scoring": asr_guard_cost(), "silero_vad": vad_cost()}
    doc["machine"] = machine()
    write_result("embed", doc)
    g = doc["guard_scoring"]
    print(f"embed bench: guard scoring {g['in_process']['rows_per_s_per_flow_core']} rows/s per flow core "
          f"in process ({g['in_process']['flow_cpu_us_per_row']} us/row) vs "
          f"{g['triton']['rows_per_s_per_flow_core']} with `embed` ({g['triton']['flow_cpu_us_per_row']} us/row, "
          f"Triton {g['triton']['triton_cpu_us_per_row']} us/row): {g['flow_core_gain']}x per flow core; "
          f"direct texts/s by batch size " + ", ".join(
              f"{b}: {v['texts_per_s']}" for b, v in doc["direct"]["by_batch_size"].items()))
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triton-url")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args(argv)
    run(args.triton_url, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
