"""One clip's speakers from its embedded windows: clusters, turns, and whether to trust them.

    settings = DiarizeSettings(num_speakers=None)
    found = diarize_windows(windows, embeddings, speech, settings)
    found.turns       # [Turn(start, end, "S1"), ...]
    found.speakers    # ["S1", "S2"] in order of first speech
    found.reasons     # why the assignment is unreliable ([] when it is not)

Unreliable (the clip keeps its transcript; `reasons` say so):
* a speaker with less than `min_speaker_s` seconds of speech: too little to tell a voice apart from
  a stray window of another (on the mixes of bench/diarization_bench.py no true speaker had less than
  4.2 s, the two stray clusters 0.5 s each);
* `num_speakers` > 1 asked, but the voices form one cluster at the distance threshold (the split into
  that many is forced, not found), or there are fewer windows than speakers asked;
* speech but no window long enough to embed (`min_window_s` of the speaker model): every segment is S1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tasks.diarization.clustering import cluster_windows
from tasks.diarization.turns import Turn, speaker_turns, speakers_of

# chosen on the dev mixes of bench/diarization_bench.py (docs/asr.md)
DEFAULT_THRESHOLD = 0.4
DEFAULT_LINKAGE = "average"
DEFAULT_MIN_SPEAKER_S = 1.0
UNRELIABLE = "speakers unreliable"


@dataclass(frozen=True)
class DiarizeSettings:
    """How a run tells speakers apart. `window` holds the `speaker` model's request parameters
    (window_s, step_s, ...; empty = the model's config defaults)."""

    num_speakers: int | None = None  # None: counted from the voices
    max_speakers: int = 8
    threshold: float = DEFAULT_THRESHOLD  # cosine distance under which clusters of windows merge
    linkage: str = DEFAULT_LINKAGE
    min_speaker_s: float = DEFAULT_MIN_SPEAKER_S
    window: dict = field(default_factory=dict)

    def config(self) -> dict:
        return {"num_speakers": self.num_speakers, "max_speakers": self.max_speakers, "threshold": self.threshold,
                "linkage": self.linkage, "min_speaker_s": self.min_speaker_s, "window": dict(self.window)}


@dataclass
class ClipSpeakers:
    turns: list[Turn] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    auto_count: int = 0


def speech_seconds(turns: list[Turn]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for t in turns:
        seconds[t.speaker] = seconds.get(t.speaker, 0.0) + max(t.end - t.start, 0.0)
    return seconds


def diarize_windows(windows: np.ndarray, embeddings: np.ndarray, speech: list[tuple[float, float]],
                    settings: DiarizeSettings) -> ClipSpeakers:
    """Cluster the windows (given or automatic count), turn them into turns, judge the result."""
    if len(windows) == 0:
        if not speech:
            return ClipSpeakers()
        spoken = sum(b - a for a, b in speech)
        turns = [Turn(a, b, "S1") for a, b in speech]
        return ClipSpeakers(turns, ["S1"], [f"{UNRELIABLE}: no speech window long enough to tell voices apart "
                                            f"({spoken:.1f} s of speech)"], 0)
    clusters = cluster_windows(embeddings, settings.threshold, settings.linkage, settings.num_speakers,
                               settings.max_speakers)
    turns = speaker_turns(windows, clusters.labels, speech)
    found = ClipSpeakers(turns, speakers_of(turns), [], clusters.auto_count)
    asked = settings.num_speakers
    if asked and asked > 1 and len(windows) < asked:
        found.reasons.append(f"{UNRELIABLE}: {asked} speakers asked, but only {len(windows)} speech window(s)")
    elif asked and asked > 1 and clusters.auto_count == 1:
        found.reasons.append(f"{UNRELIABLE}: {asked} speakers asked, but the voices form one cluster")
    seconds = speech_seconds(turns)
    short = [s for s in found.speakers if seconds.get(s, 0.0) < settings.min_speaker_s]
    if short and len(found.speakers) > 1:
        detail = ", ".join(f"{s} {seconds.get(s, 0.0):.1f} s" for s in short)
        found.reasons.append(f"{UNRELIABLE}: too little speech to tell a voice apart "
                             f"({detail}; under {settings.min_speaker_s:g} s)")
    return found
