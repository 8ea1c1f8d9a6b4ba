"""Diarization figures for docs/asr.md: DER and speaker-count accuracy of the `speaker` model + the
flow's clustering on two- and three-speaker recordings built from real speech
(bench/diarization_mixes.py), against the one-speaker baseline; the choice of window, step and
clustering; the speaker model's time per audio minute.

    set -a; . .local/stack.env; set +a
    .venv/bin/python bench/diarization_bench.py [--url 127.0.0.1:8001] [--out bench/results/diarization.json]

Needs a Triton serving `transcribe` (whisper-tiny.en) and `speaker`, and pyannote.metrics (the
`bench` extra). Mixes: a dev set (two- and three-speaker mixes, "tight" ones with short pauses and
more overlap, one-speaker clips) on which window, step, clustering and threshold are chosen, and a
test set built with other seeds on which the chosen settings are reported. The speech regions are the `transcribe` model's
(SPEECH_REGIONS), as in the flows.

DER = (missed + false alarm + confusion) / reference speech, pyannote.metrics with a collar of
+-0.25 s around each reference boundary (md-eval's 0.25 s collar; `collar=0.5` in pyannote's
convention of the whole width), overlapped speech scored. "turns" scores the diarization's speaker
turns; "segments" scores the transcript segments labelled with their speaker (what a user reads),
with and without word timestamps. The baseline labels the same speech with one speaker.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.diarization_mixes import build_mixes, single_speaker_clips  # noqa: E402
from tasks.diarization.speakers import DiarizeSettings, diarize_windows  # noqa: E402
from tasks.diarization.turns import Turn, label_segments  # noqa: E402
from tasks.inference.asr_client import TritonAsrClient, asr_parameters  # noqa: E402
from tasks.inference.client import TritonCallSettings  # noqa: E402
from tasks.inference.speaker_client import TritonSpeakerClient, speaker_settings  # noqa: E402

COLLAR = 0.5  # pyannote: the whole collar width, i.e. +-0.25 s
WINDOWS = [(1.0, 0.5), (1.6, 0.4), (1.6, 0.8), (2.4, 0.8), (2.4, 1.2)]  # (window_s, step_s)
THRESHOLDS = [round(x, 2) for x in np.arange(0.15, 0.71, 0.05)]
LINKAGES = ("average", "complete")


def der(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]]) -> dict:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for i, (a, b, s) in enumerate(reference):
        ref[Segment(a, b), i] = s
    for i, (a, b, s) in enumerate(hypothesis):
        if b > a:
            hyp[Segment(a, b), i] = s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detail = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)(ref, hyp, detailed=True)
    return {k: float(v) for k, v in detail.items()}


def pooled(details: list[dict]) -> dict:
    """DER over a set: errors and reference speech summed over the clips."""
    total = sum(d["total"] for d in details) or 1.0
    parts = {k: sum(d[k] for d in details) / total for k in ("missed detection", "false alarm", "confusion")}
    return {"der": round(sum(parts.values()), 4), **{k.split()[0]: round(v, 4) for k, v in parts.items()}}


async def transcribe_all(url: str, mixes) -> dict[str, dict]:
    settings = TritonCallSettings(url=url, model_name="transcribe", batch_size=1, concurrency=2, timeout_s=900,
                                  decoding=asr_parameters(vad_filter=True, word_timestamps=True))
    async with TritonAsrClient(settings) as client:
        results = await client.transcribe([m.wav_bytes() for m in mixes], "en")
    out = {}
    for mix, result in zip(mixes, results):
        if result.error:
            raise SystemExit(f"{mix.id}: {result.error}")
        out[mix.id] = {"regions": [[r["start"], r["end"]] for r in result.region_list],
                       "segments": result.segment_list}
    return out


async def embed_all(url: str, mixes, heard: dict, window: dict) -> dict[str, tuple]:
    async with TritonSpeakerClient(speaker_settings(url, concurrency=2, decoding=window)) as client:
        found = await client.embed([m.wav_bytes() for m in mixes], [heard[m.id]["regions"] for m in mixes])
    for mix, f in zip(mixes, found):
        if f.error:
            raise SystemExit(f"{mix.id}: {f.error}")
    return {m.id: (f.windows, f.embeddings, f.speech) for m, f in zip(mixes, found)}


def score(mixes, embedded: dict, settings: DiarizeSettings, oracle: bool = False) -> dict:
    details, correct, per_set = [], 0, {}
    for mix in mixes:
        windows, embeddings, speech = embedded[mix.id]
        asked = DiarizeSettings(**{**settings.__dict__, "num_speakers": mix.speakers if oracle else None})
        found = diarize_windows(windows, embeddings, speech, asked)
        d = der(mix.reference, [(t.start, t.end, t.speaker) for t in found.turns])
        details.append(d)
        correct += len(found.speakers) == mix.speakers
        per_set.setdefault(mix.kind, []).append((d, len(found.speakers) == mix.speakers))
    out = {"all": pooled(details), "count_accuracy": round(correct / len(mixes), 3)}
    for n, rows in sorted(per_set.items()):
        out[n] = {**pooled([d for d, _ in rows]), "count_accuracy": round(sum(c for _, c in rows) / len(rows), 3)}
    return out


def baseline(mixes, embedded: dict) -> dict:
    per_set = {}
    for mix in mixes:
        speech = embedded[mix.id][2]
        per_set.setdefault(mix.kind, []).append(der(mix.reference, [(a, b, "S1") for a, b in speech]))
    return {n: pooled(rows) for n, rows in sorted(per_set.items())}


def segment_scores(mixes, embedded: dict, heard: dict, settings: DiarizeSettings) -> dict:
    out = {}
    for words in (True, False):
        per_set = {}
        for mix in mixes:
            windows, embeddings, speech = embedded[mix.id]
            turns: list[Turn] = diarize_windows(windows, embeddings, speech, settings).turns
            segments = heard[mix.id]["segments"]
            if not words:
                segments = [{k: v for k, v in s.items() if k != "words"} for s in segments]
            labelled = label_segments(segments, turns)
            per_set.setdefault(mix.kind, []).append(
                der(mix.reference, [(s["start"], s["end"], s["speaker"]) for s in labelled]))
        out["with_words" if words else "without_words"] = {n: pooled(r) for n, r in sorted(per_set.items())}
    return out


def cluster_seconds(mixes, embedded: dict, settings: DiarizeSettings) -> dict:
    """Speech seconds of each found speaker: those that are a reference speaker's main cluster, and the
    spurious ones (a second cluster of a reference speaker): where `min_speaker_s` should sit."""
    true_s, spurious_s = [], []
    for mix in mixes:
        windows, embeddings, speech = embedded[mix.id]
        turns = diarize_windows(windows, embeddings, speech, settings).turns
        overlap: dict[str, dict[str, float]] = {}
        for t in turns:
            for a, b, who in mix.reference:
                shared = min(b, t.end) - max(a, t.start)
                if shared > 0:
                    overlap.setdefault(t.speaker, {}).setdefault(who, 0.0)
                    overlap[t.speaker][who] += shared
        seconds = {s: sum(t.end - t.start for t in turns if t.speaker == s) for s in {t.speaker for t in turns}}
        best: dict[str, tuple[float, str]] = {}
        for s, by_ref in overlap.items():
            who = max(by_ref, key=by_ref.get)
            if who not in best or seconds[s] > best[who][0]:
                if who in best:
                    spurious_s.append(best[who][0])
                best[who] = (seconds[s], s)
            else:
                spurious_s.append(seconds[s])
        true_s += [v for v, _ in best.values()]
    return {"true_min_s": round(min(true_s), 2) if true_s else None, "true_count": len(true_s),
            "spurious_s": sorted(round(v, 2) for v in spurious_s)}


def speaker_time(url: str, mixes, window: dict, minutes: float = 10.0) -> dict:
    """Seconds of `speaker` per audio minute: one clip of ~`minutes` minutes (mixes end to end), the
    transcribe model's regions replaced by the model's own VAD (no regions given); best of 3."""
    from bench.diarization_mixes import Mix

    parts, total = [], 0.0
    while total < minutes * 60:
        mix = mixes[len(parts) % len(mixes)]
        parts.append(mix.samples)
        total += mix.duration_s
    clip = Mix("long", np.concatenate(parts)).wav_bytes()

    async def once() -> float:
        async with TritonSpeakerClient(speaker_settings(url, concurrency=1, decoding=window)) as client:
            started = time.perf_counter()
            [found] = await client.embed([clip])
            if found.error:
                raise SystemExit(found.error)
            return time.perf_counter() - started, len(found.windows)

    runs = [asyncio.run(once()) for _ in range(3)]
    best = min(r[0] for r in runs)
    return {"audio_min": round(total / 60, 2), "seconds": round(best, 3), "windows": runs[0][1],
            "s_per_audio_min": round(best / (total / 60), 3), "device": "cpu (1 ONNX Runtime thread)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "diarization.json")
    parser.add_argument("--dev-count", type=int, default=12)
    parser.add_argument("--test-count", type=int, default=16)
    args = parser.parse_args(argv)
    tight = max(args.dev_count // 3, 1), max(args.test_count // 2, 1)
    dev = (build_mixes(2, args.dev_count, 1) + build_mixes(3, args.dev_count, 2) + single_speaker_clips()
           + build_mixes(2, tight[0], 3, tight=True) + build_mixes(3, tight[0], 4, tight=True))
    test = (build_mixes(2, args.test_count, 101) + build_mixes(3, args.test_count, 102)
            + build_mixes(2, tight[1], 103, tight=True) + build_mixes(3, tight[1], 104, tight=True))
    started = time.perf_counter()
    heard = asyncio.run(transcribe_all(args.url, dev + test))
    print(f"transcribed {len(dev) + len(test)} clips in {time.perf_counter() - started:.0f} s", flush=True)

    sweep, embedded_dev = [], {}
    for window_s, step_s in WINDOWS:
        window = {"window_s": window_s, "step_s": step_s}
        embedded_dev[(window_s, step_s)] = asyncio.run(embed_all(args.url, dev, heard, window))
        for linkage in LINKAGES:
            for threshold in THRESHOLDS:
                settings = DiarizeSettings(threshold=threshold, linkage=linkage)
                result = score(dev, embedded_dev[(window_s, step_s)], settings)
                sweep.append({"window_s": window_s, "step_s": step_s, "linkage": linkage, "threshold": threshold,
                              **result})
        print(f"window {window_s}/{step_s}: best dev DER "
              f"{min(r['all']['der'] for r in sweep if r['window_s'] == window_s and r['step_s'] == step_s):.3f}",
              flush=True)
    best = min(sweep, key=lambda r: (r["all"]["der"], -r["count_accuracy"]))
    window = {"window_s": best["window_s"], "step_s": best["step_s"]}
    chosen = DiarizeSettings(threshold=best["threshold"], linkage=best["linkage"], window=window)
    ablations = {}
    variants = {"no_refine": {"refine": False}, "normalize_window": {"normalize": "window"},
                "min_pause_0.15": {"min_pause_s": 0.15}, "min_pause_0.5": {"min_pause_s": 0.5}}
    for name, extra in variants.items():
        embedded = asyncio.run(embed_all(args.url, dev, heard, {**window, **extra}))
        ablations[name] = score(dev, embedded, chosen)
    embedded_test = asyncio.run(embed_all(args.url, test, heard, window))
    report = {
        "chosen": {**window, "linkage": best["linkage"], "threshold": best["threshold"]},
        "dev": {"clips": len(dev), "chosen": score(dev, embedded_dev[(best["window_s"], best["step_s"])], chosen),
                "ablations": ablations},
        "test": {"clips": len(test), "audio_min": round(sum(m.duration_s for m in test) / 60, 1),
                 "turns": score(test, embedded_test, chosen),
                 "turns_oracle_count": score(test, embedded_test, chosen, oracle=True),
                 "baseline_one_speaker": baseline(test, embedded_test),
                 "segments": segment_scores(test, embedded_test, heard, chosen)},
        "cluster_seconds": cluster_seconds(dev + test, {**embedded_dev[(best["window_s"], best["step_s"])],
                                                         **embedded_test}, chosen),
        "speaker_model_time": speaker_time(args.url, test, window),
        "sweep": sweep,
        "collar_s": COLLAR / 2,
        "machine": {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("chosen", "test", "cluster_seconds", "speaker_model_time")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
