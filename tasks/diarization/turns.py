"""Speaker turns from clustered windows, and transcript segments labelled with them.

    turns = speaker_turns(windows, labels, speech)        # [Turn(0.41, 3.2, "S1"), Turn(3.9, 6.0, "S2"), ...]
    segments = label_segments(segments, turns)            # each with "speaker"; split where words change speaker
    text = turn_text(segments)                            # "[S1] Good morning. [S2] Hello."

* Turns: each speech piece is shared among the windows cut from it, a window owning the time
  nearest its centre (the boundary between two windows lies halfway between their centres); a window
  whose label differs from its two neighbours in the same piece, which agree, takes theirs (one
  window is too little evidence of a speaker change). A piece too short to hold a window takes the
  label of the nearest window. Speakers are named S1, S2, ... in the order they first speak.
* Segments: a segment's speaker is the one whose turns overlap it most (the nearest turn when none
  does). With word timestamps, each word gets a speaker the same way; a segment whose words change
  speaker is split there into one segment per run of words (a one-word run between two runs of the
  same other speaker keeps theirs), each with its words, text, start and end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# languages written without spaces between words: split segments join their words without one
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue", "bo", "km"})


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker}


def _smoothed(labels: list[int], pieces: list[int]) -> list[int]:
    out = list(labels)
    for i in range(1, len(labels) - 1):
        same_piece = pieces[i - 1] == pieces[i] == pieces[i + 1]
        if same_piece and labels[i - 1] == labels[i + 1] != labels[i]:
            out[i] = labels[i - 1]
    return out


def speaker_turns(windows: np.ndarray, labels: np.ndarray, speech: list[tuple[float, float]],
                  smooth: bool = True) -> list[Turn]:
    """Turns over `speech` (pieces, seconds) from `windows` (float [n, 2], start/end, cut from those
    pieces) and their cluster `labels`; adjacent spans of one speaker inside a piece are one turn."""
    if len(windows) == 0:
        return []
    centres = (np.asarray(windows, dtype=float)[:, 0] + np.asarray(windows, dtype=float)[:, 1]) / 2
    order = np.argsort(centres, kind="stable")
    centres, labels = centres[order], [int(x) for x in np.asarray(labels)[order]]
    piece_of = [next((k for k, (a, b) in enumerate(speech) if a - 1e-3 <= c <= b + 1e-3), -1) for c in centres]
    if smooth:
        labels = _smoothed(labels, piece_of)
    spans: list[tuple[float, float, int]] = []
    for k, (start, end) in enumerate(speech):
        inside = [i for i, p in enumerate(piece_of) if p == k]
        if not inside:  # too short for a window: the nearest window's speaker
            nearest = int(np.argmin(np.abs(centres - (start + end) / 2)))
            spans.append((start, end, labels[nearest]))
            continue
        edges = [start, *((centres[i] + centres[j]) / 2 for i, j in zip(inside, inside[1:])), end]
        for i, a, b in zip(inside, edges, edges[1:]):
            if spans and spans[-1][2] == labels[i] and abs(spans[-1][1] - a) < 1e-6:
                spans[-1] = (spans[-1][0], b, labels[i])
            else:
                spans.append((a, b, labels[i]))
    names: dict[int, str] = {}
    for _, _, label in sorted(spans):
        names.setdefault(label, f"S{len(names) + 1}")
    return [Turn(float(a), float(b), names[label]) for a, b, label in sorted(spans) if b > a]


def speakers_of(turns: list[Turn]) -> list[str]:
    """Speakers in the order they first speak."""
    return list(dict.fromkeys(t.speaker for t in sorted(turns, key=lambda t: t.start)))


def speaker_at(start: float, end: float, turns: list[Turn]) -> str | None:
    """The speaker whose turns overlap [start, end] most; the nearest turn's when none overlaps."""
    if not turns:
        return None
    overlap: dict[str, float] = {}
    for t in turns:
        shared = min(end, t.end) - max(start, t.start)
        if shared > 0:
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda s: overlap[s])
    middle = (start + end) / 2
    return min(turns, key=lambda t: 0.0 if t.start <= middle <= t.end else min(abs(t.start - middle),
                                                                               abs(t.end - middle))).speaker


def _word_runs(words: list[dict], speakers: list[str]) -> list[tuple[str, list[dict]]]:
    speakers = list(speakers)
    for i in range(1, len(speakers) - 1):  # one word between two runs of the same other speaker
        if speakers[i - 1] == speakers[i + 1] != speakers[i]:
            speakers[i] = speakers[i - 1]
    runs: list[tuple[str, list[dict]]] = []
    for word, speaker in zip(words, speakers):
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(word)
        else:
            runs.append((speaker, [word]))
    return runs


def label_segments(segments: list[dict], turns: list[Turn]) -> list[dict]:
    """`segments` (dicts with start, end, text, words?) each with a `speaker`; one split per change of
    speaker among its words. Without turns the segments come back unchanged."""
    if not turns:
        return [dict(s) for s in segments]
    out = []
    for segment in segments:
        words = [w for w in segment.get("words") or [] if str(w.get("word", "")).strip()]
        if not words:
            out.append({**segment, "speaker": speaker_at(float(segment["start"]), float(segment["end"]), turns)})
            continue
        runs = _word_runs(words, [speaker_at(float(w["start"]), float(w["end"]), turns) for w in words])
        if len(runs) == 1:
            out.append({**segment, "speaker": runs[0][0]})
            continue
        glue = "" if segment.get("language") in NO_SPACE_LANGUAGES else " "
        for speaker, run in runs:
            out.append({**segment, "start": run[0]["start"], "end": run[-1]["end"],
                        "text": glue.join(str(w["word"]).strip() for w in run), "words": run, "speaker": speaker})
    return out


def turn_text(segments: list[dict]) -> str:
    """The segments' texts in order, a `[S<n>]` label where the speaker changes."""
    parts, current = [], None
    for segment in segments:
        text = str(segment.get("text") or "").strip()
        if not text:
            continue
        speaker = segment.get("speaker")
        if speaker and speaker != current:
            parts.append(f"[{speaker}]")
            current = speaker
        parts.append(text)
    return " ".join(parts)
