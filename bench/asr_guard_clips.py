"""Labelled clips for bench/measure_asr_guards.py, generated on the fly (16 kHz mono WAV bytes):
clean English speech from espeak-ng (several voices and speeds), the same speech under noise, and
non-speech (silence, dither, white / pink / brown noise, hum, clicks, tones, music-like chords and
melodies). Deterministic: fixed sentences, voices, speeds and noise seed."""
from __future__ import annotations

import io
import subprocess
import wave
from dataclasses import dataclass

import numpy as np

RATE = 16000
SEED = 20261123

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please send the report to the team before Friday.",
    "The weather is cold today, so bring a warm coat.",
    "The library opens early on weekdays and closes late.",
    "Good morning everyone, the meeting starts now.",
    "Our flight to Berlin was delayed by two hours.",
    "She bought fresh bread and cheese at the market.",
    "Turn left at the second traffic light and park behind the bank.",
    "The children played football in the park until it got dark.",
    "Can you call me back after lunch, please?",
    "The new software update fixes several security problems.",
    "We need three more chairs for the conference room.",
    "My grandmother grew tomatoes and beans in her garden.",
    "The train leaves from platform nine at half past seven.",
    "Thank you for coming, and have a safe trip home.",
    "He forgot his umbrella and got completely wet.",
    "The museum has a large collection of old maps.",
    "Water boils at one hundred degrees Celsius.",
    "No, no, no, not that one, the blue one.",
    "Thank you.",
    "Yes.",
]
FAST_SENTENCES = [0, 7, 10]  # spoken again at 280 words/min
NOISY_SENTENCES = [(1, "pink"), (5, "white"), (8, "pink"), (12, "white")]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us+m4"]
SPEEDS = [120, 150, 175, 200, 230]


@dataclass
class Clip:
    id: str
    kind: str  # speech | noisy_speech | non_speech
    family: str  # speech, silence, noise, tone, ...
    audio: bytes
    seconds: float
    script: str = ""


def to_wav(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1), writer.setsampwidth(2), writer.setframerate(RATE)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return out.getvalue()


def espeak(text: str, voice: str, speed: int) -> np.ndarray:
    """float samples at 16 kHz, spoken by espeak-ng (22.05 kHz, resampled linearly)."""
    data = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                          check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), np.int16).astype(np.float64) / 32768
    positions = np.arange(int(len(pcm) * RATE / rate)) * rate / RATE
    return np.interp(positions, np.arange(len(pcm)), pcm)


def pad(samples: np.ndarray, before: float = 0.3, after: float = 0.6) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * RATE)), samples, np.zeros(int(after * RATE))])


def coloured_noise(rng: np.random.Generator, n: int, colour: str) -> np.ndarray:
    """Unit-RMS white, pink (1/f) or brown (1/f^2) noise."""
    white = rng.standard_normal(n)
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    spectrum /= freqs ** (0.5 if colour == "pink" else 1.0)
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return noise / np.std(noise)


def db(level_dbfs: float) -> float:
    return 10 ** (level_dbfs / 20)


def tone(freqs: list[float], seconds: float, harmonics: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    out = sum(sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, harmonics + 1)) for f in freqs)
    return out / max(1e-9, np.max(np.abs(out)))


def sequence(notes: list[list[float]], note_s: float, harmonics: int = 3, gap_s: float = 0.03) -> np.ndarray:
    """Notes/chords one after another with a short fade: music-like."""
    parts = []
    for chord in notes:
        body = tone(chord, note_s - gap_s, harmonics)
        envelope = np.minimum(1, np.minimum(np.arange(len(body)), np.arange(len(body))[::-1]) / (0.02 * RATE))
        parts += [body * envelope, np.zeros(int(gap_s * RATE))]
    return np.concatenate(parts)


C4, D4, E4, F4, G4, A4, B4, C5 = 261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3


def non_speech_clips(rng: np.random.Generator) -> list[tuple[str, str, np.ndarray]]:
    """(id, family, samples)."""
    clips: list[tuple[str, str, np.ndarray]] = []
    for seconds in (2, 5, 8):
        clips.append((f"silence-{seconds}s", "silence", np.zeros(seconds * RATE)))
    for seconds, level in ((3, -66), (6, -60)):
        clips.append((f"dither-{seconds}s", "silence", coloured_noise(rng, seconds * RATE, "white") * db(level)))
    for colour, levels in (("white", (-45, -30, -20, -12)), ("pink", (-45, -30, -20, -12)), ("brown", (-30, -15))):
        for j, level in enumerate(levels):
            seconds = (3, 5, 4, 7)[j % 4]
            clips.append((f"{colour}-{-level}dB", "noise", coloured_noise(rng, seconds * RATE, colour) * db(level)))
    t = np.arange(4 * RATE) / RATE
    hum = sum(np.sin(2 * np.pi * 50 * h * t) / h for h in (1, 2, 3, 5))
    clips.append(("hum-50hz", "noise", hum / np.max(np.abs(hum)) * db(-20)))
    clicks = np.zeros(5 * RATE)
    clicks[rng.integers(0, len(clicks), 40)] = rng.choice([-1.0, 1.0], 40) * 0.5
    clips.append(("clicks", "noise", clicks))
    clips.append(("sine-440", "tone", tone([A4], 4) * db(-10)))
    clips.append(("sine-1k", "tone", tone([1000], 3) * db(-15)))
    beeps = np.concatenate([np.concatenate([tone([880], 0.25), np.zeros(int(0.25 * RATE))]) for _ in range(8)])
    clips.append(("beeps", "tone", beeps * db(-12)))
    clips.append(("chord-cmaj", "music", tone([C4, E4, G4], 4, harmonics=4) * db(-10)))
    clips.append(("chord-amin", "music", tone([A4 / 2, C4, E4], 6, harmonics=3) * db(-14)))
    scale = [[f] for f in (C4, D4, E4, F4, G4, A4, B4, C5)]
    clips.append(("scale", "music", sequence(scale, 0.4) * db(-10)))
    arpeggio = [[f] for f in (C4, E4, G4, C5, G4, E4) * 3]
    clips.append(("arpeggio", "music", sequence(arpeggio, 0.25, harmonics=4) * db(-12)))
    progression = [[C4, E4, G4], [A4 / 2, C4, E4], [F4 / 2, A4 / 2, C4], [G4 / 2, B4 / 2, D4]] * 2
    clips.append(("chords-progression", "music", sequence(progression, 0.9, harmonics=5) * db(-10)))
    melody = sequence([[f] for f in (E4, D4, C4, D4, E4, E4, E4, D4, D4, D4, E4, G4, G4)], 0.35, harmonics=6)
    accompaniment = coloured_noise(rng, len(melody), "pink") * db(-40)
    clips.append(("melody-with-hiss", "music", melody * db(-12) + accompaniment))
    return clips


def build_clips() -> list[Clip]:
    rng = np.random.default_rng(SEED)
    clips: list[Clip] = []
    spoken: dict[int, np.ndarray] = {}
    for i, text in enumerate(SENTENCES):
        voice, speed = VOICES[i % len(VOICES)], SPEEDS[i % len(SPEEDS)]
        spoken[i] = samples = pad(espeak(text, voice, speed))
        clips.append(Clip(f"speech-{i:02d}-{voice}-{speed}", "speech", "speech", to_wav(samples * 0.7),
                          len(samples) / RATE, text))
    for i in FAST_SENTENCES:
        samples = pad(espeak(SENTENCES[i], VOICES[(i + 1) % len(VOICES)], 280))
        clips.append(Clip(f"speech-{i:02d}-fast-280", "speech", "speech", to_wav(samples * 0.7),
                          len(samples) / RATE, SENTENCES[i]))
    for i, colour in NOISY_SENTENCES:
        speech = spoken[i] * 0.7
        noise = coloured_noise(rng, len(speech), colour)
        noise *= np.sqrt(np.mean(speech**2)) / 10 ** (10 / 20)  # 10 dB SNR
        clips.append(Clip(f"noisy-{i:02d}-{colour}-10dB", "noisy_speech", "speech", to_wav(speech + noise),
                          len(speech) / RATE, SENTENCES[i]))
    for clip_id, family, samples in non_speech_clips(rng):
        clips.append(Clip(clip_id, "non_speech", family, to_wav(samples), len(samples) / RATE))
    return clips
