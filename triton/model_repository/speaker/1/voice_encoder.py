"""Speaker embeddings of speech windows for the `speaker` Triton model, without any Triton import
(tests and benchmarks run it directly with .venv-triton's interpreter).

    encoder = VoiceEncoder(model_dir)                       # <models_dir>/speaker/<name>/ (encoder.onnx)
    found = encoder.embed_clip(audio_bytes, SpeakerOptions(regions="[[0.4, 6.2]]"))
    found.windows      # float32 [n, 2]: start, end seconds of each window
    found.embeddings   # float32 [n, 256]: unit-length GE2E embeddings (cosine = dot product)
    found.speech       # [(start, end), ...]: the speech the windows were cut from

1. Audio: encoded bytes -> 16 kHz mono float32 (PyAV through faster-whisper's decode_audio, as the
   `transcribe` model decodes).
2. Speech: the request's `regions` (the VAD regions `transcribe` reported), else the whole clip;
   with `refine` (default) silero VAD runs again inside them with short pauses (`min_pause_s`) and
   little padding, so that a window holds speech, not the pauses between two speakers' turns.
3. Windows: `window_s` long every `step_s` across each speech piece, the last one ending at the
   piece's end; a piece shorter than `window_s` (and at least `min_window_s`) is one window.
4. Features: resemblyzer's (resemblyzer/hparams.py, audio.py): mel **power** frames (40 slaney
   bands, 25 ms hann window, 10 ms hop, centred), after the speech is brought to -30 dBFS (louder
   only). `normalize="clip"` takes one gain for all the clip's speech; "window" one per window.
5. Network: resemblyzer's GE2E voice encoder exported to ONNX (triton/tools/install_speaker_model.py),
   run by ONNX Runtime on windows grouped by frame count.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
METADATA_FILE = "sentinel-model.json"
EMBEDDING_DIM = 256
BLOCK_S = 300.0  # VAD scans long audio in blocks (its memory grows with the input)
TARGET_DBFS = -30.0
INT16_MAX = 2 ** 15 - 1


class SpeakerError(ValueError):
    """Bad audio or bad request options for one request: becomes that request's error."""


# request parameter -> (type, minimum, maximum)
PARAMETERS = {
    "regions": (str, None, None),
    "window_s": (float, 0.4, 10.0),
    "step_s": (float, 0.05, 10.0),
    "min_window_s": (float, 0.1, 10.0),
    "refine": (bool, None, None),
    "min_pause_s": (float, 0.05, 5.0),
    "vad_threshold": (float, 0.01, 0.99),
    "normalize": (str, None, None),
    "max_audio_s": (float, 0.1, 86_400.0),
}
NORMALIZE = ("clip", "window")


@dataclass(frozen=True)
class SpeakerOptions:
    regions: str | None = None  # JSON [[start, end], ...] seconds: the speech to embed (None: the whole clip)
    window_s: float = 1.0
    step_s: float = 0.5
    min_window_s: float = 0.5  # shorter speech pieces get no window of their own
    refine: bool = True  # silero VAD again inside the regions, with short pauses
    min_pause_s: float = 0.3  # refine: a pause this long ends a speech piece
    vad_threshold: float = 0.5
    normalize: str = "clip"
    max_audio_s: float | None = None  # None: the server's cap


def _convert(key: str, raw, kind):
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0"):
            return raw.strip().lower() in ("true", "1")
        raise SpeakerError(f"parameter {key}={raw!r} is not a boolean")
    if kind is str:
        return raw if not isinstance(raw, str) else (raw.strip() or None)
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
    except (TypeError, ValueError):
        raise SpeakerError(f"parameter {key}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SpeakerError(f"parameter {key}={raw!r} is not finite")
    return value


def parse_options(parameters_json: str, max_audio_cap: float, defaults: dict | None = None) -> SpeakerOptions:
    """Request parameters (Triton's JSON) over `defaults` (the config's) -> SpeakerOptions; unknown keys ignored."""
    try:
        params = {**(defaults or {}), **json.loads(parameters_json or "{}")}
    except json.JSONDecodeError as exc:
        raise SpeakerError(f"request parameters are not JSON: {exc}") from None
    values = {}
    for key, (kind, low, high) in PARAMETERS.items():
        if key not in params:
            continue
        value = _convert(key, params[key], kind)
        if low is not None and not low <= value <= high:
            raise SpeakerError(f"parameter {key}={value:g} is outside [{low:g}, {high:g}]")
        values[key] = value
    if values.get("normalize") is not None and values["normalize"] not in NORMALIZE:
        raise SpeakerError(f"parameter normalize={values['normalize']!r} is not one of {', '.join(NORMALIZE)}")
    if isinstance(values.get("regions"), list):
        values["regions"] = json.dumps(values["regions"])
    options = SpeakerOptions(**{k: v for k, v in values.items() if v is not None})
    if options.step_s > options.window_s:
        raise SpeakerError(f"parameter step_s={options.step_s:g} is longer than window_s={options.window_s:g}")
    if options.max_audio_s is not None and options.max_audio_s > max_audio_cap:
        raise SpeakerError(f"parameter max_audio_s={options.max_audio_s:g} is above the server's limit "
                           f"{max_audio_cap:g}")
    return options


# ---- audio and speech ----------------------------------------------------------------------------

def decode(data: bytes, max_audio_s: float) -> np.ndarray:
    """Encoded bytes -> 16 kHz mono float32; SpeakerError naming the reason for bad input."""
    import av
    from faster_whisper.audio import decode_audio

    if not data:
        raise SpeakerError("audio is empty (0 bytes)")
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise SpeakerError("no audio stream in the file")
            stream = container.streams.audio[0]
            declared = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                        else None)
        if declared is not None and declared > max_audio_s + 0.5:
            raise SpeakerError(f"audio is {declared:.1f} s long, over max_audio_s={max_audio_s:g}")
        samples = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except av.error.FFmpegError as exc:
        raise SpeakerError(f"undecodable audio ({len(data)} bytes): {exc}") from None
    if samples.size == 0:
        raise SpeakerError(f"no audio samples decoded from {len(data)} bytes (empty or truncated file)")
    if samples.size / SAMPLE_RATE > max_audio_s:
        raise SpeakerError(f"audio is {samples.size / SAMPLE_RATE:.1f} s long, over max_audio_s={max_audio_s:g}")
    return samples


def parse_regions(raw: str | None, duration_s: float) -> list[tuple[float, float]]:
    """The `regions` parameter (JSON [[start, end], ...] or [{"start", "end"}, ...] seconds), sorted,
    clipped to the audio, overlaps joined; None: the whole clip."""
    if raw is None:
        return [(0.0, duration_s)]
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SpeakerError(f"parameter regions is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise SpeakerError("parameter regions must be a JSON list of [start, end] seconds")
    spans = []
    for item in items:
        try:
            start, end = (item["start"], item["end"]) if isinstance(item, dict) else item
            start, end = float(start), float(end)
        except (KeyError, TypeError, ValueError):
            raise SpeakerError(f"parameter regions: {item!r} is not [start, end] in seconds") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise SpeakerError(f"parameter regions: [{start:g}, {end:g}] is not a span of seconds")
        if start < duration_s:
            spans.append((start, min(end, duration_s)))
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def fine_speech(samples: np.ndarray, regions: list[tuple[float, float]], options: SpeakerOptions
                ) -> list[tuple[float, float]]:
    """Silero VAD inside `regions`, a pause of `min_pause_s` ending a piece, 50 ms padding."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(threshold=options.vad_threshold, min_silence_duration_ms=int(options.min_pause_s * 1000),
                     speech_pad_ms=50, min_speech_duration_ms=100)
    pieces = []
    for start, end in regions:
        first = int(start * SAMPLE_RATE)
        region = samples[first:int(math.ceil(end * SAMPLE_RATE))]
        block = int(BLOCK_S * SAMPLE_RATE)
        for offset in range(0, max(region.size, 1), block):
            for span in get_speech_timestamps(region[offset:offset + block], vad):
                a = (first + offset + span["start"]) / SAMPLE_RATE
                b = (first + offset + span["end"]) / SAMPLE_RATE
                if pieces and a - pieces[-1][1] < 0.01:
                    pieces[-1] = (pieces[-1][0], b)
                else:
                    pieces.append((a, b))
    return pieces


def windows_of(speech: list[tuple[float, float]], options: SpeakerOptions) -> list[tuple[float, float]]:
    """`window_s` windows every `step_s` across each piece (the last ending at the piece's end); a piece
    shorter than a window (but at least `min_window_s`) is one window."""
    out = []
    for start, end in speech:
        length = end - start
        if length < options.min_window_s - 1e-9:
            continue
        if length <= options.window_s:
            out.append((start, end))
            continue
        count = int(math.ceil((length - options.window_s) / options.step_s - 1e-9)) + 1
        for i in range(count):
            a = min(start + i * options.step_s, end - options.window_s)
            out.append((a, a + options.window_s))
    return out


# ---- features and network ------------------------------------------------------------------------

class MelFrames:
    """resemblyzer's features: mel power frames (slaney filters from faster-whisper, numpy STFT)."""

    def __init__(self, n_fft: int = 400, hop_length: int = 160, n_mels: int = 40):
        from faster_whisper.feature_extractor import FeatureExtractor

        self.n_fft, self.hop = n_fft, hop_length
        self.filters = FeatureExtractor.get_mel_filters(SAMPLE_RATE, n_fft, n_mels).astype(np.float32)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)  # periodic hann

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """[frames, n_mels] float32 for one window of samples (frames = 1 + len // hop)."""
        padded = np.pad(samples.astype(np.float32), self.n_fft // 2)  # centred frames, zero padded
        count = 1 + (padded.size - self.n_fft) // self.hop
        frames = np.lib.stride_tricks.as_strided(padded, (count, self.n_fft), (padded.strides[0] * self.hop,
                                                                                padded.strides[0]))
        power = np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2
        return (power.astype(np.float32) @ self.filters.T).astype(np.float32)


def volume_gain(samples: np.ndarray) -> float:
    """resemblyzer's normalize_volume(-30 dBFS, increase_only) as a factor."""
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) * INT16_MAX) ** 2))) if samples.size else 0.0
    if rms <= 0:
        return 1.0
    change = TARGET_DBFS - 20 * math.log10(rms / INT16_MAX)
    return 10 ** (change / 20) if change > 0 else 1.0


@dataclass
class ClipEmbeddings:
    windows: np.ndarray  # float32 [n, 2]
    embeddings: np.ndarray  # float32 [n, 256]
    speech: list[tuple[float, float]] = field(default_factory=list)
    duration_s: float = 0.0


class VoiceEncoder:
    """The GE2E encoder of one model dir (encoder.onnx + sentinel-model.json) on ONNX Runtime."""

    def __init__(self, model_dir: Path, device: str = "cpu", threads: int = 1, device_id: int = 0,
                 max_windows: int = 256):
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        self.metadata = json.loads((self.model_dir / METADATA_FILE).read_text())
        self.name = self.metadata.get("name") or self.model_dir.name
        self.mel = MelFrames(int(self.metadata.get("n_fft", 400)), int(self.metadata.get("hop_length", 160)),
                             int(self.metadata.get("n_mels", 40)))
        self.max_windows = max(1, max_windows)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        if device == "cuda":
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                raise RuntimeError(f"device 'cuda' needs onnxruntime-gpu's CUDAExecutionProvider; "
                                   f"this onnxruntime has {available}")
            providers = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
        elif device == "cpu":
            providers = ["CPUExecutionProvider"]
        else:
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        self.session = ort.InferenceSession(str(self.model_dir / "encoder.onnx"), options, providers=providers)
        self.providers = self.session.get_providers()

    def embed_samples(self, pieces: list[np.ndarray]) -> np.ndarray:
        """One embedding per piece of 16 kHz samples: pieces of equal frame count share ONNX calls."""
        feats = [self.mel(p) for p in pieces]
        out = np.zeros((len(feats), EMBEDDING_DIM), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, f in enumerate(feats):
            by_length.setdefault(f.shape[0], []).append(i)
        for members in by_length.values():
            for first in range(0, len(members), self.max_windows):
                part = members[first:first + self.max_windows]
                batch = np.stack([feats[i] for i in part])
                out[part] = self.session.run(None, {"mels": batch})[0]
        return out

    def embed_clip(self, data: bytes, options: SpeakerOptions, max_audio_s: float = 3600.0) -> ClipEmbeddings:
        samples = decode(data, options.max_audio_s or max_audio_s)
        duration = samples.size / SAMPLE_RATE
        regions = parse_regions(options.regions, duration)
        speech = fine_speech(samples, regions, options) if options.refine else regions
        windows = windows_of(speech, options)
        if not windows:
            return ClipEmbeddings(np.zeros((0, 2), np.float32), np.zeros((0, EMBEDDING_DIM), np.float32),
                                  speech, duration)
        cuts = [samples[int(round(a * SAMPLE_RATE)):int(round(b * SAMPLE_RATE))] for a, b in windows]
        if options.normalize == "clip":
            spoken = np.concatenate([samples[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in speech])
            gain = volume_gain(spoken)
            cuts = [c * gain for c in cuts]
        else:
            cuts = [c * volume_gain(c) for c in cuts]
        return ClipEmbeddings(np.asarray(windows, np.float32), self.embed_samples(cuts), speech, duration)


def find_model_dirs(models_dir: Path, kind: str = "speaker") -> list[Path]:
    return sorted(p.parent for p in (Path(models_dir) / kind).glob(f"*/{METADATA_FILE}")
                  if not p.parent.name.startswith(".") and (p.parent / "encoder.onnx").is_file())
