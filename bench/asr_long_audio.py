"""Long recordings through the `transcribe` engine (no Triton): real-time factor, peak memory and WER
for 1, 10 and 60 minutes of espeak-ng English (tests/fixtures/audio/recordings.py; needs espeak-ng
and sox), sequential decoding vs faster-whisper's VAD-chunked BatchedInferencePipeline.

    .venv/bin/python bench/asr_long_audio.py --minutes 1,10 --modes sequential,batched [--model whisper-tiny.en]

Each (length, mode) runs in its own .venv-triton process, so peak RSS (ru_maxrss) is that run's:
model load + decoded audio + features + decoding. Results: bench/results/asr_long_audio.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "audio"))

import recordings  # noqa: E402

from bench.wer import word_error_rate  # noqa: E402

TRITON_PYTHON = REPO / ".venv-triton" / "bin" / "python"
ENGINE_DIR = REPO / "triton" / "model_repository" / "transcribe" / "1"
CHILD = """
import json, resource, sys, time
sys.path.insert(0, {engine!r})
import whisper_engine as we, clip_transcriber as ct
started = time.perf_counter()
engines = [we.WhisperEngine(p, m, compute_type='int8', cpu_threads={threads}, batched={batched}, batch_size=8)
           for p, m in we.find_model_dirs({models!r}) if m['name'] in {names!r}]
router = we.ModelRouter(engines, {model!r})
loaded = time.perf_counter()
data = open({wav!r}, 'rb').read()
options = we.AsrOptions(vad_filter=True, language_per_region={per_region})
t = ct.transcribe_row(router, data, None, options, 1e9)
done = time.perf_counter()
print(json.dumps({{"load_s": loaded - started, "transcribe_s": done - loaded, "text": t.text,
                   "duration_s": t.duration_s, "segments": len(t.segments), "languages": t.languages,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(wav: Path, models_dir: Path, model: str, batched: bool, per_region: bool, threads: int) -> dict:
    names = [model] + (["whisper-base"] if per_region and model != "whisper-base" else [])
    code = CHILD.format(engine=str(ENGINE_DIR), models=str(models_dir), names=names, model=model, batched=batched,
                        wav=str(wav), per_region=per_region, threads=threads)
    proc = subprocess.run([str(TRITON_PYTHON), "-P", "-c", code], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10")
    parser.add_argument("--modes", default="sequential,batched")
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--per-region", action="store_true", help="detect the language per region (loads base)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models-dir", default=str(REPO / ".local" / "triton" / "models"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "asr_long_audio.json"))
    args = parser.parse_args(argv)
    if why := recordings.tools_missing():
        raise SystemExit(why)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in [float(m) for m in args.minutes.split(",")]:
            rec = recordings.long_recording(Path(tmp) / f"m{minutes:g}", minutes)
            wav = Path(tmp) / f"long_{minutes:g}.wav"
            wav.write_bytes(rec.wav)
            for mode in args.modes.split(","):
                started = time.perf_counter()
                out = run(wav, Path(args.models_dir), args.model, mode == "batched", args.per_region, args.threads)
                row = {"minutes": minutes, "audio_s": round(rec.seconds, 1), "mode": mode, "model": args.model,
                       "per_region": args.per_region, "threads": args.threads,
                       "transcribe_s": round(out["transcribe_s"], 1), "load_s": round(out["load_s"], 1),
                       "rtf": round(out["transcribe_s"] / rec.seconds, 4),
                       "peak_rss_mib": round(out["peak_rss_mib"]), "segments": out["segments"],
                       "languages": out["languages"],
                       "wer": round(word_error_rate([rec.scripts["en"]], [out["text"]]), 4),
                       "wall_s": round(time.perf_counter() - started, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
