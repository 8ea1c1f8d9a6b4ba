"""Measure the ASR hallucination guards on clips generated here, through the real `transcribe` model.

    .venv/bin/python bench/measure_asr_guards.py            # local stack up, Whisper models installed
    .venv/bin/python bench/measure_asr_guards.py --no-base  # skip the (slower) multilingual base model
    .venv/bin/python bench/measure_asr_guards.py --decodings default,raw,vad,raw-base   # all four

Clips (16 kHz mono WAV, ~55, 1-8 s): clean English speech from espeak-ng (20+ sentences, several
voices, 120-280 words/min, incl. a short "Yes.", a real "Thank you." and "No, no, no"), the same
speech under pink/white noise (10 dB SNR), and non-speech: digital silence, dither, white / pink /
brown noise at several levels, hum, clicks, and music-like tones (sines, beeps, chords, arpeggios,
a chord progression with harmonics). Every clip is sent through Triton's `transcribe` under several
decodings and scored with `score_transcripts` (default ASRGuardSettings):

* `default` (opt-in): the server's defaults, VAD off: Whisper's own no-speech / log-prob gates on.
* `raw`: VAD off and Whisper's gates off (no_speech_threshold 1.0, no temperature fallback): the
  decoder's first pass as is, which is where hallucinations come from.
* `vad`: VAD on (what the flows send).
* `raw` on `whisper-base` (multilingual, language detected): the model that hallucinates most.

Reported per decoding: share of non-speech clips with a non-empty transcript ("hallucinated") and
how many of those are flagged; share of clean (and noisy) speech flagged; per detector, how often it
fires (score >= 0.5) on each. Flagged raw transcripts are re-decoded with ASR_REDECODE_PARAMETERS and
rescored. Writes bench/results/asr_guards.json and the generated part of docs/guards.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr_guard_clips import Clip, build_clips  # noqa: E402  (bench/, beside this script)

from bench.wer import word_error_rate  # noqa: E402
from tasks.guards.asr.batch import TranscriptBatch, has_content  # noqa: E402
from tasks.guards.asr.checker import ASR_DETECTOR_NAMES, ASR_REDECODE_PARAMETERS, guard_transcripts  # noqa: E402
from tasks.guards.asr.settings import ASRGuardSettings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "asr_guards.json"
DOC = ROOT / "docs" / "guards.md"
BEGIN, END = "<!-- asr-guards:begin -->", "<!-- asr-guards:end -->"
FAITHFUL_WER = 0.5
# ---- transcription -------------------------------------------------------------------------------

RAW = {"vad_filter": False, "no_speech_threshold": 1.0, "temperature_increment": 0.0}
DECODINGS = {  # name -> (model or None for the server default, request parameters)
    "default": (None, {"vad_filter": False}),
    "raw": (None, RAW),
    "vad": (None, {"vad_filter": True}),
    "raw-base": ("whisper-base", RAW),
}


async def transcribe(clips: list[bytes], model: str | None, parameters: dict) -> list:
    from tasks.inference.asr_client import TritonAsrClient, asr_parameters
    from tasks.inference.client import TritonCallSettings

    extra = {k: v for k, v in parameters.items() if k != "vad_filter"}
    decoding = asr_parameters(vad_filter=parameters.get("vad_filter", True), model=model, **extra)
    settings = TritonCallSettings(url=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"),
                                  model_name="transcribe", batch_size=4, concurrency=2, timeout_s=600,
                                  max_retries=2, decoding=decoding)
    client = TritonAsrClient(settings)
    try:
        return await client.transcribe(clips)
    finally:
        await client.close()


def batch_of(results: list) -> TranscriptBatch:
    return TranscriptBatch.build(
        [r.text for r in results], [r.avg_logprob for r in results], [r.no_speech_prob for r in results],
        [r.compression_ratio for r in results], [r.duration_s for r in results], [r.speech_s for r in results],
        [r.language for r in results])


# ---- measurement ---------------------------------------------------------------------------------

def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def measure(clips: list[Clip], results: list, settings: ASRGuardSettings) -> dict:
    errors = [c.id for c, r in zip(clips, results) if r.error]
    batch = batch_of([r if not r.error else type(r)(text="") for r in results])
    detector_results, score, flagged, reasons = guard_transcripts(batch, settings)
    # the same transcripts without VAD's evidence (speech_s unknown): what the other detectors catch alone
    _, _, flagged_without_vad, _ = guard_transcripts(replace(batch, speech_s=np.full(len(batch), np.nan)), settings)
    # speech transcripts close to their script (WER <= 0.5): flagging one of those is a false positive
    faithful = np.array([bool(c.script) and word_error_rate([c.script], [r.text or ""]) <= FAITHFUL_WER
                         for c, r in zip(clips, results)])
    fires = {d.name: np.nan_to_num(d.scores, nan=0.0) >= 0.5 for d in detector_results}
    kinds = np.array([c.kind for c in clips])
    content = batch.with_content()
    non_speech = kinds == "non_speech"
    hallucinated = non_speech & content
    groups = {"hallucinated": hallucinated, "speech": kinds == "speech", "noisy_speech": kinds == "noisy_speech"}
    per_detector = {
        name: {group: share(int(np.sum(fires.get(name, np.zeros(len(clips), bool)) & mask)), int(np.sum(mask)))
               for group, mask in groups.items()}
        for name in ASR_DETECTOR_NAMES
    }
    rows = [
        {"id": c.id, "kind": c.kind, "family": c.family, "seconds": round(c.seconds, 2), "script": c.script,
         "text": r.text,
         "language": r.language, "speech_s": r.speech_s, "no_speech_prob": r.no_speech_prob,
         "avg_logprob": r.avg_logprob, "compression_ratio": r.compression_ratio, "error": r.error,
         "wer": round(word_error_rate([c.script], [r.text or ""]), 3) if c.script else None,
         "hallucination_score": round(float(score[i]), 4), "flagged": bool(flagged[i]), "reasons": reasons[i]}
        for i, (c, r) in enumerate(zip(clips, results))
    ]
    return {
        "non_speech": int(non_speech.sum()),
        "non_speech_hallucinated": int(hallucinated.sum()),
        "non_speech_hallucinated_share": share(int(hallucinated.sum()), int(non_speech.sum())),
        "hallucinated_flagged": int((hallucinated & flagged).sum()),
        "hallucinated_flagged_share": share(int((hallucinated & flagged).sum()), int(hallucinated.sum())),
        "hallucinated_flagged_without_vad": int((hallucinated & flagged_without_vad).sum()),
        "speech_flagged_without_vad": int((groups["speech"] & flagged_without_vad).sum()),
        "speech": int(groups["speech"].sum()),
        "speech_flagged": int((groups["speech"] & flagged).sum()),
        "speech_flagged_share": share(int((groups["speech"] & flagged).sum()), int(groups["speech"].sum())),
        "speech_faithful_flagged": int((groups["speech"] & flagged & faithful).sum()),
        "noisy_speech": int(groups["noisy_speech"].sum()),
        "noisy_speech_flagged": int((groups["noisy_speech"] & flagged).sum()),
        "speech_empty": int((groups["speech"] & ~content).sum()),
        "per_detector_fires": per_detector,
        "errors": errors,
        "rows": rows,
    }


def redecode(clips: list[Clip], measured: dict, model: str | None, settings: ASRGuardSettings) -> dict:
    """Re-decode the flagged clips with ASR_REDECODE_PARAMETERS: how many come back empty or unflagged."""
    picked = [i for i, row in enumerate(measured["rows"]) if row["flagged"]]
    if not picked:
        return {"redecoded": 0}
    started = time.perf_counter()
    results = asyncio.run(transcribe([clips[i].audio for i in picked], model, ASR_REDECODE_PARAMETERS))
    _, _, flagged, _ = guard_transcripts(batch_of(results), settings)
    empty = [not has_content(r.text or "") for r in results]
    speech = [clips[i].kind != "non_speech" for i in picked]
    return {
        "redecoded": len(picked),
        "empty_after": int(sum(empty)),
        "still_flagged": int(sum(flagged)),
        "speech_among_redecoded": int(sum(speech)),
        "seconds": round(time.perf_counter() - started, 1),
        "texts_after": {clips[i].id: r.text for i, r in zip(picked, results)},
    }


# ---- report --------------------------------------------------------------------------------------

def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _short(text: str | None, limit: int = 60) -> str:
    text = re.sub(r"\s+", " ", text or "").strip().replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fired(row: dict) -> str:
    """'no_speech_text, non_speech_phrase': the detectors in the row's reasons, strongest first."""
    return ", ".join(reason.split(" (")[0] for reason in row["reasons"]) or "—"


def markdown(report: dict) -> str:
    runs = report["decodings"]
    lines = [
        f"Generated by `bench/measure_asr_guards.py` on {report['generated']} against the running `transcribe` "
        f"model ({report['clips']['total']} clips: {report['clips']['speech']} clean speech, "
        f"{report['clips']['noisy_speech']} speech at 10 dB SNR, {report['clips']['non_speech']} non-speech; "
        f"{report['clips']['audio_seconds']:.0f} s of audio), `--decodings {','.join(runs)}`, default "
        f"`ASRGuardSettings`, {report['machine']}.",
        "",
        "| decoding | model | non-speech with text | of those flagged | … flagged without VAD evidence "
        "| clean speech flagged | … of them faithful (WER ≤ 0.5) | noisy speech flagged "
        "| re-decoded flagged → empty / still flagged | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        m, r = run["measure"], run.get("redecode", {})
        again = f"{r['empty_after']} / {r['still_flagged']} of {r['redecoded']}" if r.get("redecoded") else "–"
        lines.append(
            f"| `{name}` | {run['model']} | {m['non_speech_hallucinated']}/{m['non_speech']} "
            f"({pct(m['non_speech_hallucinated_share'])}) | {m['hallucinated_flagged']}/{m['non_speech_hallucinated']} "
            f"({pct(m['hallucinated_flagged_share'])}) | {m['hallucinated_flagged_without_vad']}/"
            f"{m['non_speech_hallucinated']} | {m['speech_flagged']}/{m['speech']} "
            f"({pct(m['speech_flagged_share'])}) | {m['speech_faithful_flagged']} "
            f"| {m['noisy_speech_flagged']}/{m['noisy_speech']} | {again} "
            f"| {run['seconds']:.0f} |")
    lines += ["", "Per detector, share of rows where it fires (score ≥ 0.5) — hallucinated non-speech transcripts "
              "/ clean speech, per decoding:", "",
              "| detector | " + " | ".join(f"`{n}`" for n in runs) + " |",
              "|---|" + "---|" * len(runs)]
    for detector in ASR_DETECTOR_NAMES:
        cells = []
        for run in runs.values():
            fires = run["measure"]["per_detector_fires"][detector]
            cells.append(f"{pct(fires['hallucinated'])} / {pct(fires['speech'])}")
        lines.append(f"| `{detector}` | " + " | ".join(cells) + " |")
    examples = []
    for name, run in runs.items():
        for row in run["measure"]["rows"]:
            if row["kind"] == "non_speech" and has_content(row["text"] or ""):
                examples.append((name, row))
    seen, shown = set(), []
    for name, row in examples:
        text = re.sub(r"\s+", " ", row["text"]).strip()
        key = text[:40].lower()
        if key in seen:
            continue
        seen.add(key)
        shown.append(f"| `{name}` | {row['id']} | {_short(text)} | {'yes' if row['flagged'] else 'no'} "
                     f"| {_fired(row)} |")
    if shown:
        lines += ["", "Distinct hallucinated transcripts of non-speech clips (first 12):", "",
                  "| decoding | clip | transcript | flagged | detectors at ≥ 0.5 |", "|---|---|---|---|---|",
                  *shown[:12]]
    flagged_speech = [
        f"| `{name}` | {row['id']} | {row['script']} | {_short(row['text'])} | {row['wer']:.2f} | {_fired(row)} |"
        for name, run in runs.items()
        for row in run["measure"]["rows"]
        if row["kind"] != "non_speech" and row["flagged"]
    ]
    if flagged_speech:
        lines += ["", "Speech clips flagged:", "", "| decoding | clip | script | transcript | WER | detectors at ≥ 0.5 |",
                  "|---|---|---|---|---|---|", *flagged_speech[:10]]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text()
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## ASR guards\n\n" + block + "\n"
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decodings", default="raw,vad,raw-base",
                        help=f"comma list of {', '.join(DECODINGS)} (default: raw,vad,raw-base: ~2.5-4 min on 2 "
                        "shared cores, most of it whisper-base; `default` adds ~45 s)")
    parser.add_argument("--no-base", action="store_true", help="skip the multilingual whisper-base decoding")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/guards.md")
    args = parser.parse_args(argv)
    settings = ASRGuardSettings()
    started = time.perf_counter()
    clips = build_clips()
    print(f"{len(clips)} clips generated in {time.perf_counter() - started:.1f}s")
    wanted = [name.strip() for name in args.decodings.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in DECODINGS]
    if unknown:
        parser.error(f"unknown decoding(s) {', '.join(unknown)}; known: {', '.join(DECODINGS)}")
    decodings = {k: DECODINGS[k] for k in wanted if not (args.no_base and DECODINGS[k][0] == "whisper-base")}
    runs = {}
    for name, (model, parameters) in decodings.items():
        t0 = time.perf_counter()
        results = asyncio.run(transcribe([c.audio for c in clips], model, parameters))
        seconds = time.perf_counter() - t0
        measured = measure(clips, results, settings)
        run = {"model": model or "default (whisper-tiny.en)", "parameters": parameters, "seconds": round(seconds, 1),
               "measure": measured}
        if name.startswith("raw"):
            run["redecode"] = redecode(clips, measured, model, settings)
        runs[name] = run
        print(f"{name:9s} {seconds:5.1f}s  non-speech with text {measured['non_speech_hallucinated']}/"
              f"{measured['non_speech']}, flagged {measured['hallucinated_flagged']}; clean speech flagged "
              f"{measured['speech_flagged']}/{measured['speech']}; noisy {measured['noisy_speech_flagged']}/"
              f"{measured['noisy_speech']}; errors {len(measured['errors'])}")
    report = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "clips": {"total": len(clips), "speech": sum(c.kind == "speech" for c in clips),
                  "noisy_speech": sum(c.kind == "noisy_speech" for c in clips),
                  "non_speech": sum(c.kind == "non_speech" for c in clips),
                  "audio_seconds": round(sum(c.seconds for c in clips), 1)},
        "settings": settings.model_dump(),
        "redecode_parameters": ASR_REDECODE_PARAMETERS,
        "decodings": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    section = markdown(report)
    if not args.no_doc:
        write_doc(section)
    print(section)
    print(f"total {report['seconds']:.0f}s -> {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
