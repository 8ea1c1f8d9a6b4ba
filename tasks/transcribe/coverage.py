"""Speech left out of a transcript: the VAD speech regions the `transcribe` model reports
(SPEECH_REGIONS) against the transcript's segment timestamps, and splicing the segments of a retry
of the uncovered regions back in time order.

    gaps = uncovered_speech(result.region_list, result.segment_list, settings)
    missing_s = sum(g.seconds for g in gaps)
    spliced = splice(result, retry_result)
    row = merge_channels(row, channel_results)   # channels="split": the row rebuilt from its channels

A segment covers its [start, end] widened by `segment_pad_s` on each side (silero pads every region
by 0.4 s, and Whisper's segment boundaries move by a few tenths of a second); what is left of a region
counts only in pieces of at least `min_gap_s`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

from tasks.guards.asr.detectors import compression_ratio
from tasks.guards.asr.nonwords import is_non_words
from tasks.guards.asr.settings import SpeechCoverageSettings
from tasks.inference.asr_client import AsrResult


@dataclass(frozen=True)
class Gap:
    """Seconds [start, end) of speech no segment covers, with the region's detected language."""

    start: float
    end: float
    language: str | None = None

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)

    def describe(self) -> str:
        where = f"{self.start:.1f}-{self.end:.1f} s"
        return f"{where} ({self.language})" if self.language else where


def _covered(segments: list[dict], pad_s: float) -> list[tuple[float, float]]:
    spans = sorted((float(s["start"]) - pad_s, float(s["end"]) + pad_s) for s in segments
                   if not is_non_words(s.get("text")))
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def uncovered_speech(regions: list[dict], segments: list[dict],
                     settings: SpeechCoverageSettings | None = None) -> list[Gap]:
    """Pieces (>= min_gap_s) of the speech regions that no segment with words covers."""
    settings = settings or SpeechCoverageSettings()
    covered = _covered(segments, settings.segment_pad_s)
    gaps = []
    for region in regions:
        start, end = float(region["start"]), float(region["end"])
        pieces = [(start, end)]
        for a, b in covered:
            pieces = [p for s, e in pieces for p in ((s, min(e, a)), (max(s, b), e)) if p[1] - p[0] > 1e-9]
        gaps += [Gap(s, e, region.get("language")) for s, e in pieces if e - s >= settings.min_gap_s]
    return gaps


def missing_reason(gaps: list[Gap], shown: int = 3) -> str:
    """'untranscribed speech: 10.6 s not covered by the transcript (18.5-29.2 s (de))'."""
    total = sum(g.seconds for g in gaps)
    more = f", +{len(gaps) - shown} more" if len(gaps) > shown else ""
    where = ", ".join(g.describe() for g in gaps[:shown]) + more
    return f"untranscribed speech: {total:.1f} s not covered by the transcript ({where})"


def _languages(segments: list[dict]) -> list[str]:
    seconds: dict[str, float] = {}
    for s in segments:
        if s.get("language"):
            seconds[s["language"]] = seconds.get(s["language"], 0.0) + max(s["end"] - s["start"], 0.0) + 1e-6
    return sorted(seconds, key=lambda lang: -seconds[lang])


def splice(result: AsrResult, extra: AsrResult) -> AsrResult:
    """`result` with the segments of `extra` (a retry of its uncovered regions) merged in time order;
    text, language(s), model and scores recomputed over the merged segments (duration-weighted)."""
    segments = sorted([*result.segment_list, *(s for s in extra.segment_list if not is_non_words(s.get("text")))],
                      key=lambda s: (s["start"], s["end"]))
    text = " ".join(s["text"].strip() for s in segments if s["text"].strip())
    weights = [max(s["end"] - s["start"], 1e-3) for s in segments]
    total = sum(weights)

    def mean(key: str, default: float) -> float:
        return sum(s.get(key, default) * w for s, w in zip(segments, weights)) / total if total else default

    languages = _languages(segments) or list(result.languages or [])
    models = [m for r in (result, extra) for m in (r.model or "").split(",") if m]
    return replace(result, text=text, segments=json.dumps(segments, ensure_ascii=False),
                   language=languages[0] if languages else result.language, languages=languages,
                   avg_logprob=mean("avg_logprob", 0.0), no_speech_prob=mean("no_speech_prob", 1.0),
                   compression_ratio=compression_ratio(text), model=",".join(dict.fromkeys(models)) or None)


def merge_channels(row: AsrResult, channels: list[AsrResult]) -> AsrResult:
    """A split-channel row rebuilt from (re-checked) channel results: segments in time order labelled
    with their channel, text `[ch<N>] ...`, speech regions with their channel, languages by seconds."""
    segments = sorted(({**s, "channel": c} for c, r in enumerate(channels) for s in r.segment_list),
                      key=lambda s: (s["start"], s["channel"]))
    regions = sorted(({**g, "channel": c} for c, r in enumerate(channels) for g in r.region_list),
                     key=lambda g: (g["start"], g["channel"]))
    languages = _languages(segments) or list(row.languages or [])
    models = [m for r in channels for m in (r.model or "").split(",") if m]
    return replace(row, text=" ".join(f"[ch{s['channel']}] {s['text'].strip()}" for s in segments),
                   segments=json.dumps(segments, ensure_ascii=False), speech_regions=json.dumps(regions),
                   languages=languages, language=languages[0] if languages else row.language,
                   model=",".join(dict.fromkeys(models)) or row.model, channels=list(channels))
