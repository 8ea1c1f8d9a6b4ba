"""Whisper speech recognition for the `transcribe` Triton model, without any Triton import
(so it can be tested directly with .venv-triton's interpreter).

* decode: encoded audio bytes (any container/codec PyAV's bundled FFmpeg reads, any rate, mono or
  stereo) -> 16 kHz mono float32, with the duration checked against `max_audio_s` *before* the
  full decode when the container knows it; bad bytes raise AudioError with a reason.
* transcribe: faster-whisper (CTranslate2) on one clip. Long audio goes through Whisper's 30 s
  windows (sequential on CPU; BatchedInferencePipeline batches the windows when `batched`).
* speech seconds: silero VAD (the ONNX weights bundled in faster-whisper, run by onnxruntime).
* routing: a request may name a model; otherwise English (or no language) goes to the default
  model, any other language to a multilingual one.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
WINDOW_S = 30.0  # Whisper's input window
METADATA_FILE = "sentinel-model.json"


class AudioError(ValueError):
    """Bad audio or bad request options for one request: becomes that request's error."""


# ---- request options -----------------------------------------------------------------------------

# request parameter -> (type, minimum, maximum)
PARAMETERS = {
    "beam_size": (int, 1, 10),
    "temperature": (float, 0.0, 1.0),
    "temperature_increment": (float, 0.0, 1.0),
    "compression_ratio_threshold": (float, 0.0, 100.0),
    "log_prob_threshold": (float, -100.0, 0.0),
    "no_speech_threshold": (float, 0.0, 1.0),
    "condition_on_previous_text": (bool, None, None),
    "vad_filter": (bool, None, None),
    "vad_threshold": (float, 0.01, 0.99),
    "max_audio_s": (float, 0.1, 86_400.0),
    "model": (str, None, None),
}


@dataclass(frozen=True)
class AsrOptions:
    beam_size: int = 1
    temperature: float = 0.0  # first decoding temperature
    temperature_increment: float = 0.2  # fallback step when a window fails the thresholds; 0 = no fallback
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    condition_on_previous_text: bool = True
    vad_filter: bool = False
    vad_threshold: float = 0.5
    max_audio_s: float | None = None  # None: the server's cap
    model: str | None = None

    def temperatures(self) -> list[float]:
        if self.temperature_increment <= 0:
            return [self.temperature]
        steps = int(round((1.0 - self.temperature) / self.temperature_increment))
        return [round(self.temperature + i * self.temperature_increment, 4) for i in range(steps + 1)]


def _convert(key: str, raw, kind):
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0"):
            return raw.strip().lower() in ("true", "1")
        raise AudioError(f"parameter {key}={raw!r} is not a boolean")
    if kind is str:
        return str(raw).strip() or None
    try:
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = kind(raw)
    except (TypeError, ValueError):
        raise AudioError(f"parameter {key}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise AudioError(f"parameter {key}={raw!r} is not finite")
    return value


def parse_options(parameters_json: str, max_audio_cap: float) -> AsrOptions:
    """Request parameters (Triton's JSON) -> AsrOptions; unknown keys are ignored."""
    try:
        params = json.loads(parameters_json or "{}")
    except json.JSONDecodeError as exc:
        raise AudioError(f"request parameters are not JSON: {exc}") from None
    values = {}
    for key, (kind, low, high) in PARAMETERS.items():
        if key not in params:
            continue
        value = _convert(key, params[key], kind)
        if low is not None and not low <= value <= high:
            raise AudioError(f"parameter {key}={value} is outside [{low}, {high}]")
        values[key] = value
    options = AsrOptions(**values)
    if options.max_audio_s is not None and options.max_audio_s > max_audio_cap:
        raise AudioError(f"parameter max_audio_s={options.max_audio_s:g} is above the server's limit {max_audio_cap:g}")
    return options


# ---- audio ---------------------------------------------------------------------------------------

def probe_duration(data: bytes) -> float | None:
    """Duration the container declares (no decoding), None when it declares none."""
    import av

    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise AudioError("no audio stream in the file")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000  # av.time_base
    return None


def decode(data: bytes, max_audio_s: float) -> np.ndarray:
    """Encoded bytes -> 16 kHz mono float32 samples; AudioError with the reason for bad input."""
    import av
    from faster_whisper.audio import decode_audio

    if not data:
        raise AudioError("audio is empty (0 bytes)")
    try:
        declared = probe_duration(data)
        if declared is not None and declared > max_audio_s + 0.5:
            raise AudioError(f"audio is {declared:.1f} s long, over max_audio_s={max_audio_s:g} (not transcribed)")
        samples = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except av.error.FFmpegError as exc:
        raise AudioError(f"undecodable audio ({len(data)} bytes): {exc}") from None
    if samples.size == 0:
        raise AudioError(f"no audio samples decoded from {len(data)} bytes (empty or truncated file)")
    seconds = samples.size / SAMPLE_RATE
    if seconds > max_audio_s:
        raise AudioError(f"audio is {seconds:.1f} s long, over max_audio_s={max_audio_s:g} (not transcribed)")
    return samples


def speech_seconds(samples: np.ndarray, threshold: float = 0.5) -> float:
    """Seconds of speech found by silero VAD (faster-whisper's bundled ONNX model)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(samples, VadOptions(threshold=threshold))
    return sum(span["end"] - span["start"] for span in spans) / SAMPLE_RATE


# ---- models --------------------------------------------------------------------------------------

@dataclass
class Transcript:
    text: str
    language: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    duration_s: float
    speech_s: float
    segments: list[dict] = field(default_factory=list)
    model: str = ""


def find_model_dirs(models_dir: Path, kind: str = "transcribe") -> list[tuple[Path, dict]]:
    found = []
    for meta_path in sorted((Path(models_dir) / kind).glob(f"*/{METADATA_FILE}")):
        if meta_path.parent.name.startswith("."):
            continue  # staging/old dirs of an in-progress sync
        try:
            found.append((meta_path.parent, json.loads(meta_path.read_text())))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"unreadable model metadata {meta_path}: {exc}") from exc
    return found


class WhisperEngine:
    """One faster-whisper model; `transcribe` is thread-safe up to `num_workers` parallel calls."""

    def __init__(self, model_dir: Path, metadata: dict, *, device: str = "cpu", device_index: int = 0,
                 compute_type: str = "default", cpu_threads: int = 0, num_workers: int = 1,
                 batched: bool = False, batch_size: int = 16):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.name = metadata.get("name") or Path(model_dir).name
        self.model = WhisperModel(str(model_dir), device=device, device_index=device_index,
                                  compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers)
        self.multilingual = bool(self.model.model.is_multilingual)
        self.languages = set(self.model.supported_languages)
        self.pipeline = BatchedInferencePipeline(self.model) if batched else None
        self.batch_size = batch_size

    def transcribe(self, samples: np.ndarray, language: str | None, options: AsrOptions) -> Transcript:
        if language and language not in self.languages:
            raise AudioError(f"model {self.name} does not know language {language!r}")
        common = dict(
            language=language or None, beam_size=options.beam_size,
            compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.log_prob_threshold, no_speech_threshold=options.no_speech_threshold,
            vad_filter=options.vad_filter, vad_parameters={"threshold": options.vad_threshold},
        )
        if self.pipeline is not None:
            segments, info = self.pipeline.transcribe(
                samples, batch_size=self.batch_size, temperature=options.temperature,
                clip_timestamps=None if options.vad_filter else fixed_windows(samples), **common)
            segments = [s for s in segments if not is_silent_window(s, options)]
        else:
            segments, info = self.model.transcribe(
                samples, temperature=options.temperatures(),
                condition_on_previous_text=options.condition_on_previous_text, **common)
        segments = list(segments)  # the generator does the decoding
        speech = info.duration_after_vad if options.vad_filter else speech_seconds(samples, options.vad_threshold)
        return summarize(segments, info.language, info.duration, speech, self.name)


def is_silent_window(segment, options: AsrOptions) -> bool:
    """Whisper's no-speech rule, which the batched pipeline does not apply itself."""
    return segment.no_speech_prob > options.no_speech_threshold and segment.avg_logprob < options.log_prob_threshold


def fixed_windows(samples: np.ndarray) -> list[dict]:
    """30 s windows covering the whole clip (the batched pipeline needs explicit clips without VAD)."""
    seconds = samples.size / SAMPLE_RATE
    starts = np.arange(0.0, max(seconds, 1e-3), WINDOW_S)
    return [{"start": float(s), "end": float(min(s + WINDOW_S, seconds))} for s in starts]


def summarize(segments: list, language: str, duration: float, speech: float, model: str) -> Transcript:
    """Per-clip scores from the segments: token-weighted mean log-probability, duration-weighted
    no-speech probability (1.0 when nothing was transcribed), gzip compression ratio of the text."""
    from faster_whisper.transcribe import get_compression_ratio

    text = " ".join(s.text.strip() for s in segments if s.text.strip())
    tokens = sum(len(s.tokens) for s in segments)
    span = sum(max(s.end - s.start, 0.0) for s in segments)
    avg_logprob = sum(s.avg_logprob * len(s.tokens) for s in segments) / tokens if tokens else 0.0
    if span > 0:
        no_speech = sum(s.no_speech_prob * max(s.end - s.start, 0.0) for s in segments) / span
    else:
        no_speech = max((s.no_speech_prob for s in segments), default=1.0)
    return Transcript(
        text=text, language=language or "", avg_logprob=float(avg_logprob), no_speech_prob=float(no_speech),
        compression_ratio=float(get_compression_ratio(text)) if text else 0.0,
        duration_s=float(duration), speech_s=float(speech), model=model,
        segments=[{"start": round(float(s.start), 3), "end": round(float(s.end), 3), "text": s.text.strip(),
                   "avg_logprob": round(float(s.avg_logprob), 4), "no_speech_prob": round(float(s.no_speech_prob), 4),
                   "compression_ratio": round(float(s.compression_ratio), 4)} for s in segments],
    )


class ModelRouter:
    """Which engine serves a row: the requested model, else the default for English / no language,
    else a multilingual model (the default if it is one, then by name)."""

    def __init__(self, engines: list[WhisperEngine], default_model: str):
        self.engines = {e.name: e for e in engines}
        if default_model and default_model not in self.engines:
            raise ValueError(f"default_model {default_model!r} is not loaded (loaded: {', '.join(self.engines)})")
        self.default = self.engines[default_model] if default_model else next(iter(self.engines.values()))

    def pick(self, requested: str | None, language: str | None) -> WhisperEngine:
        if requested:
            engine = self.engines.get(requested)
            if engine is None:
                raise AudioError(f"no transcribe model {requested!r}; loaded: {', '.join(sorted(self.engines))}")
        elif not language or language == "en" or self.default.multilingual:
            engine = self.default
        else:
            multilingual = sorted((e for e in self.engines.values() if e.multilingual), key=lambda e: e.name)
            if not multilingual:
                raise AudioError(f"LANGUAGE={language!r} needs a multilingual model; loaded: "
                                 f"{', '.join(sorted(self.engines))} (English-only)")
            engine = multilingual[0]
        if language and language != "en" and not engine.multilingual:
            raise AudioError(f"model {engine.name} is English-only; LANGUAGE={language!r} needs a multilingual model")
        return engine
