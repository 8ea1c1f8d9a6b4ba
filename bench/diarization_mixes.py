"""One-channel recordings of several speakers, built from the real read speech in
../shared/data/speech/ (README there), with the reference of who spoke when.

    mixes = build_mixes(speakers=2, count=12, seed=1)     # [Mix(id, samples, reference, speakers), ...]
    mix.wav_bytes()                                       # 16-bit PCM WAV, 16 kHz mono

Sources: speaker `spk1` (six sentences, 2.3-3.2 s), speaker `spk2` (six, 1.8-2.0 s) and LJ Speech's
reader (`LJ050-0131`, 7.7 s, resampled from 22.05 kHz and cut at its two longest pauses into three
pieces). The `example*` clips are not used: which of them share a speaker is not known, and their
voice embeddings sit between spk1's and the others' (docs/asr.md). A mix takes 3-6 sentences of each
of `speakers` speakers (spk1, spk2, then LJ), no sentence twice, in random order, each at a random
level (+-4 dB per speaker); between two sentences a pause of 0.15-1.5 s, or, in one of five changes
of speaker, an overlap of 0.2-0.8 s ("tight" mixes: pauses of 0-0.3 s, overlaps in three of ten
changes). A little white noise (-60 dBFS) is added throughout.

The reference speech of a sentence is its span with the leading and trailing silence of the source
file cut (frames of 10 ms more than 35 dB under the file's loudest frame); pauses inside a
sentence count as speech, as in usual RTTM references.
"""
from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"
RATE = 16000
SPEAKERS = ("spk1", "spk2", "lj")


@dataclass
class Mix:
    id: str
    samples: np.ndarray  # float32, 16 kHz mono
    reference: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, speaker
    speakers: int = 0
    kind: str = ""  # "2spk", "3spk", "2spk-tight", "1spk", ...

    @property
    def duration_s(self) -> float:
        return self.samples.size / RATE

    def wav_bytes(self) -> bytes:
        pcm = np.clip(self.samples, -1.0, 1.0 - 1 / 32768)
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(RATE)
            writer.writeframes((pcm * 32768).astype("<i2").tobytes())
        return out.getvalue()


def read_wav(path: Path) -> np.ndarray:
    """16-bit PCM WAV -> float32 mono at 16 kHz (resampled with scipy's polyphase filter)."""
    from math import gcd

    from scipy.signal import resample_poly

    with wave.open(str(path), "rb") as reader:
        rate, channels = reader.getframerate(), reader.getnchannels()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32) / 32768
    pcm = pcm.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        g = gcd(rate, RATE)
        pcm = resample_poly(pcm, RATE // g, rate // g).astype(np.float32)
    return pcm


def frame_levels(samples: np.ndarray, frame: int = RATE // 100) -> np.ndarray:
    count = samples.size // frame
    frames = samples[:count * frame].reshape(count, frame)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def speech_extent(samples: np.ndarray, floor_db: float = 35.0) -> tuple[int, int]:
    """(first, last) sample of the speech: leading/trailing frames over `floor_db` under the loudest cut."""
    levels = frame_levels(samples)
    loud = np.flatnonzero(levels > levels.max() - floor_db)
    frame = RATE // 100
    return int(loud[0] * frame), int(min((loud[-1] + 1) * frame, samples.size))


def split_at_pauses(samples: np.ndarray, pieces: int, min_pause_s: float = 0.12) -> list[np.ndarray]:
    """`samples` cut in the middle of its `pieces - 1` longest pauses (10 ms frames 30 dB under the peak)."""
    levels = frame_levels(samples)
    quiet = levels < levels.max() - 30
    runs, start = [], None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if start > 0 and i < len(quiet) and (i - start) / 100 >= min_pause_s:
                runs.append((i - start, (start + i) // 2))
            start = None
    cuts = sorted(c for _, c in sorted(runs, reverse=True)[:pieces - 1])
    bounds = [0, *(c * RATE // 100 for c in cuts), samples.size]
    return [samples[a:b] for a, b in zip(bounds, bounds[1:])]


def sources(data_dir: Path = DATA) -> dict[str, list[np.ndarray]]:
    """Each speaker's utterances, trimmed to their speech (20 ms kept on each side)."""
    found = {"spk1": [read_wav(data_dir / f"spk1_snt{i}.wav") for i in range(1, 7)],
             "spk2": [read_wav(data_dir / f"spk2_snt{i}.wav") for i in range(1, 7)],
             "lj": split_at_pauses(read_wav(data_dir / "LJ050-0131.wav"), 3)}
    margin = RATE // 50
    out = {}
    for speaker, clips in found.items():
        out[speaker] = []
        for clip in clips:
            first, last = speech_extent(clip)
            out[speaker].append(clip[max(first - margin, 0):last + margin])
    return out


def build_mix(mix_id: str, speakers: int, rng: np.random.Generator, pool: dict[str, list[np.ndarray]],
              tight: bool = False) -> Mix:
    """`tight`: pauses of 0-0.3 s and an overlap in three of ten changes of speaker (0.2-0.8 s)."""
    pause, overlap = ((0.0, 0.3), 0.3) if tight else ((0.15, 1.5), 0.2)
    names = SPEAKERS[:speakers]
    picked = []
    for name in names:
        available = pool[name]
        count = min(len(available), int(rng.integers(3, 7)))
        chosen = rng.choice(len(available), size=count, replace=False)
        gain = 10 ** (rng.uniform(-4, 4) / 20)
        picked += [(name, available[i] * gain) for i in chosen]
    order = rng.permutation(len(picked))
    lead = int(rng.uniform(0.3, 1.0) * RATE)
    placed, cursor, previous = [], lead, None
    for index in order:
        name, clip = picked[index]
        if previous is not None:
            if previous != name and rng.random() < overlap:
                cursor -= int(rng.uniform(0.2, 0.8) * RATE)
            else:
                cursor += int(rng.uniform(*pause) * RATE)
        placed.append((cursor, name, clip))
        cursor += clip.size
        previous = name
    total = cursor + int(rng.uniform(0.3, 1.0) * RATE)
    samples = (rng.standard_normal(total) * 10 ** (-60 / 20)).astype(np.float32)
    reference = []
    for start, name, clip in placed:
        samples[start:start + clip.size] += clip
        first, last = speech_extent(clip)
        reference.append(((start + first) / RATE, (start + last) / RATE, name))
    return Mix(mix_id, samples, sorted(reference), speakers, f"{speakers}spk" + ("-tight" if tight else ""))


def build_mixes(speakers: int, count: int, seed: int, data_dir: Path = DATA, tight: bool = False) -> list[Mix]:
    pool = sources(data_dir)
    rng = np.random.default_rng(seed)
    kind = f"{speakers}spk" + ("-tight" if tight else "")
    return [build_mix(f"{kind}-{seed}-{i:02d}", speakers, rng, pool, tight) for i in range(count)]


def single_speaker_clips(data_dir: Path = DATA, seed: int = 7) -> list[Mix]:
    """One speaker's sentences in a row (pauses 0.15-1.5 s): the automatic count should say 1."""
    pool = sources(data_dir)
    rng = np.random.default_rng(seed)
    clips = []
    for name in SPEAKERS:
        utterances = pool[name]
        for k in range(2 if name != "lj" else 1):
            order = rng.permutation(len(utterances))
            pieces, reference, cursor = [], [], int(0.5 * RATE)
            out = np.zeros(0, np.float32)
            for i in order:
                gap = int(rng.uniform(0.15, 1.5) * RATE)
                out = np.concatenate([out, np.zeros(gap if pieces else cursor, np.float32), utterances[i]])
                start = out.size - utterances[i].size
                first, last = speech_extent(utterances[i])
                reference.append(((start + first) / RATE, (start + last) / RATE, name))
                pieces.append(i)
            out = np.concatenate([out, np.zeros(RATE // 2, np.float32)])
            out += (rng.standard_normal(out.size) * 10 ** (-60 / 20)).astype(np.float32)
            clips.append(Mix(f"1spk-{name}-{k}", out, reference, 1, "1spk"))
    return clips
