"""Real-recording figures for docs/asr.md on a running stack's Triton: code-switched clips (WER per
language, seconds of speech left out before and after the untranscribed-speech guard) and a
two-channel call (WER per channel, mixed vs split). Clips are made by espeak-ng + sox
(tests/fixtures/audio/recordings.py).

    set -a; . .local/stack.env; set +a
    .venv/bin/python bench/asr_recordings.py [--url 127.0.0.1:8001] [--out bench/results/asr_recordings.json]

Configurations: `one-language` (language_per_region off: what the model did before issue 13, the
default tiny.en), `one-language-base` (the same with whisper-base requested), `per-region` (the
default now). "left out" = speech seconds of VAD regions no segment covers (tasks/transcribe/coverage.py,
default tolerance); "after guard" = the same after the guard's retry of the uncovered regions.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "audio"))

import recordings  # noqa: E402

from bench.wer import word_error_rate  # noqa: E402
from tasks.engine.guard_clock import GuardClock  # noqa: E402
from tasks.inference.asr_client import TritonAsrClient, asr_parameters  # noqa: E402
from tasks.inference.client import TritonCallSettings  # noqa: E402
from tasks.transcribe.coverage import uncovered_speech  # noqa: E402
from tasks.transcribe.guard import TranscriptGuard, drop_non_words, guard_transcripts_of_clips  # noqa: E402

CONFIGS = {
    "one-language": {"language_per_region": False},
    "one-language-base": {"language_per_region": False, "model": "whisper-base"},
    "per-region": {},
}
MIXES = [("en", "de"), ("de", "en"), ("en", "fr"), ("en", "de", "fr")]


def in_span(result, start: float, end: float) -> str:
    return " ".join(s["text"] for s in result.segment_list if start - 0.5 <= s["start"] < end)


async def guarded(url: str, clip: bytes, parameters: dict, vad_filter: bool):
    settings = TritonCallSettings(url=url, model_name="transcribe", batch_size=1, timeout_s=600, max_retries=2,
                                  decoding=asr_parameters(vad_filter=vad_filter, **parameters))
    async with TritonAsrClient(settings) as client:
        started = time.perf_counter()
        [first] = await client.transcribe([clip])
        first_s = time.perf_counter() - started
        if first.error:
            raise SystemExit(first.error)
        first = drop_non_words(first)
        kept, [verdict] = await guard_transcripts_of_clips(client, [clip], [first], [0], None, TranscriptGuard(),
                                                           GuardClock())
        return first, kept[0], verdict, first_s, time.perf_counter() - started - first_s


def left_out(result) -> float:
    return round(sum(g.seconds for g in uncovered_speech(result.region_list, result.segment_list)), 2)


def code_switched_rows(url: str, tmp: Path, vad_filter: bool) -> list[dict]:
    rows = []
    for mix in MIXES:
        rec = recordings.code_switched(tmp / "-".join(mix), languages=mix)
        for name, parameters in CONFIGS.items():
            first, kept, verdict, first_s, guard_s = asyncio.run(guarded(url, rec.wav, parameters, vad_filter))
            row = {"clip": "-".join(mix), "seconds": round(rec.seconds, 1), "config": name, "vad_filter": vad_filter,
                   "languages_before": first.languages, "languages_after": kept.languages,
                   "left_out_before_s": left_out(first), "left_out_after_s": left_out(kept),
                   "flagged": verdict.flagged, "reasons": verdict.reasons, "redecoded": verdict.redecoded,
                   "transcribe_s": round(first_s, 1), "guard_s": round(guard_s, 1), "model": kept.model}
            for start, end, language in rec.spans:
                row[f"wer_{language}_before"] = round(word_error_rate([rec.scripts[language]],
                                                                      [in_span(first, start, end)]), 3)
                row[f"wer_{language}_after"] = round(word_error_rate([rec.scripts[language]],
                                                                     [in_span(kept, start, end)]), 3)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    return rows


def call_rows(url: str, tmp: Path) -> list[dict]:
    rec = recordings.two_channel(tmp / "call")
    rows = []
    for channels in ("mix", "split"):
        first, kept, verdict, first_s, _ = asyncio.run(guarded(url, rec.wav, {"channels": channels}, True))
        row = {"clip": "call", "channels": channels, "transcribe_s": round(first_s, 1), "flagged": verdict.flagged}
        if channels == "split":
            for name, channel in zip(("agent", "customer"), kept.channels):
                row[f"wer_{name}"] = round(word_error_rate([rec.scripts[name]], [channel.text]), 3)
        else:  # the mix holds both speakers: WER against both scripts in time order
            row["wer_both_speakers"] = round(word_error_rate([rec.scripts["both"]], [kept.text]), 3)
            row["customer_sentence_kept"] = "internet" in kept.text.lower()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "asr_recordings.json"))
    parser.add_argument("--vad", default="true,false", help="vad_filter values to run the code-switched clips with")
    args = parser.parse_args(argv)
    if why := recordings.tools_missing():
        raise SystemExit(why)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for vad in args.vad.split(",") for r in code_switched_rows(args.url, Path(tmp), vad == "true")]
        rows += call_rows(args.url, Path(tmp))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
