"""Speech regions of a clip (silero VAD, the ONNX weights bundled in faster-whisper) and the
request's own regions (the `regions` parameter of a retry), in seconds of the original audio.

A region is speech between pauses of at least `min_silence_s` (faster-whisper's VAD default, 2 s),
padded by silero's 0.4 s, and cut into pieces of at most 30 s (one Whisper window) so that each
piece gets its own language detection and fits one decoding window.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
MAX_REGION_S = 30.0


class RegionError(ValueError):
    """A bad `regions` request parameter."""


@dataclass
class Region:
    start: float
    end: float
    language: str | None = None  # detected (or given) language of the region; None: not detected
    language_prob: float | None = None

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)

    def samples(self, audio: np.ndarray) -> np.ndarray:
        return audio[int(self.start * SAMPLE_RATE):int(np.ceil(self.end * SAMPLE_RATE))]

    def to_dict(self) -> dict:
        out = {"start": round(self.start, 3), "end": round(self.end, 3)}
        if self.language is not None:
            out["language"] = self.language
            out["language_prob"] = None if self.language_prob is None else round(float(self.language_prob), 3)
        return out


def split_long(regions: list[Region], max_s: float = MAX_REGION_S) -> list[Region]:
    """Regions longer than `max_s` cut into equal pieces of at most `max_s`."""
    out = []
    for region in regions:
        pieces = max(1, int(np.ceil(region.seconds / max_s - 1e-9)))
        step = region.seconds / pieces
        out += [Region(region.start + i * step, region.start + (i + 1) * step if i < pieces - 1 else region.end)
                for i in range(pieces)]
    return out


def vad_regions(samples: np.ndarray, threshold: float = 0.5, block_s: float = 300.0) -> list[Region]:
    """Speech regions silero VAD finds (faster-whisper's VadOptions with `threshold`), at most 30 s each.
    Long audio is scanned in blocks of `block_s` (VAD's memory grows with the input: ~200 MB per 10 min
    in one piece); a region cut by a block boundary is joined again."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options, block = VadOptions(threshold=threshold), max(int(block_s * SAMPLE_RATE), SAMPLE_RATE)
    regions: list[Region] = []
    for offset in range(0, max(samples.size, 1), block):
        for span in get_speech_timestamps(samples[offset:offset + block], options):
            start, end = (offset + span["start"]) / SAMPLE_RATE, (offset + span["end"]) / SAMPLE_RATE
            if regions and start - regions[-1].end < 0.05:
                regions[-1].end = end
            else:
                regions.append(Region(start, end))
    return split_long(regions)


def blocks(regions: list[Region], duration_s: float, block_s: float = 300.0) -> list[tuple[float, float]]:
    """[0, duration] cut into blocks of at most ~`block_s`, each cut in the middle of a pause between
    two regions (never inside speech), so long audio is decoded block by block with bounded memory.
    One block for audio up to `block_s`."""
    if duration_s <= block_s:
        return [(0.0, duration_s)]
    cuts = [(a.end + b.start) / 2 for a, b in zip(regions, regions[1:]) if b.start >= a.end]
    out, start = [], 0.0
    for i, cut in enumerate(cuts):
        following = cuts[i + 1] if i + 1 < len(cuts) else duration_s
        if following - start > block_s and cut > start:
            out.append((start, cut))
            start = cut
    if not regions or duration_s - start > block_s:  # no pause to cut at: fixed blocks
        while duration_s - start > block_s:
            out.append((start, start + block_s))
            start += block_s
    out.append((start, duration_s))
    return out


def parse_regions(raw, duration_s: float | None = None) -> list[Region]:
    """The `regions` parameter: JSON `[[start, end], ...]` or `[{"start", "end"}, ...]` in seconds,
    sorted, non-overlapping after clipping to the audio; pieces over 30 s are cut."""
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise RegionError(f"parameter regions is not JSON: {exc}") from None
    if not isinstance(items, list) or not items:
        raise RegionError("parameter regions must be a non-empty JSON list of [start, end] seconds")
    regions = []
    for item in items:
        try:
            start, end = (item["start"], item["end"]) if isinstance(item, dict) else item
            start, end = float(start), float(end)
        except (KeyError, TypeError, ValueError):
            raise RegionError(f"parameter regions: {item!r} is not [start, end] in seconds") from None
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
            raise RegionError(f"parameter regions: [{start:g}, {end:g}] is not a span of seconds")
        regions.append(Region(start, end))
    regions.sort(key=lambda r: r.start)
    if duration_s is not None:
        regions = [Region(r.start, min(r.end, duration_s)) for r in regions if r.start < duration_s]
        if not regions:
            raise RegionError(f"parameter regions: every region starts after the audio's end ({duration_s:.1f} s)")
    return split_long(regions)


def seconds_of(regions: list[Region]) -> float:
    return float(sum(r.seconds for r in regions))
