"""Whisper speech recognition for the `transcribe` Triton model, without any Triton import
(so it can be tested directly with .venv-triton's interpreter).

* decode: encoded audio bytes (any container/codec PyAV's bundled FFmpeg reads, any rate, mono or
  stereo) -> 16 kHz mono float32 (or one array per channel), with the duration checked against
  `max_audio_s` *before* the full decode when the container knows it; bad bytes raise AudioError.
* WhisperEngine.decode: faster-whisper (CTranslate2) on one clip, or on some of its regions
  (`clips`: clip_timestamps); segments as dicts with their language and model. Long audio goes
  through Whisper's 30 s windows (sequential on CPU; BatchedInferencePipeline batches them when
  `batched`). Segments made only of non-words ('...', '♪', '[Music]') are dropped (non_words.py).
* routing: a request may name a model; otherwise English (or no language) goes to the default
  model, any other language to a multilingual one; the multilingual model detects languages.
  Per-region language detection and channels: clip_transcriber.py.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from asr_options import CHANNEL_MODES, PARAMETERS, AsrOptions, AudioError, parse_options  # noqa: F401 - re-exported
from non_words import is_non_words

SAMPLE_RATE = 16000
WINDOW_S = 30.0  # Whisper's input window
DETECT_MIN_S = 10.0  # shortest encoder input for language detection
DETECT_SURE = 0.6  # below this probability a short-input detection is redone on the full 30-s window
METADATA_FILE = "sentinel-model.json"


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


def channel_count(data: bytes) -> int:
    import av

    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise AudioError("no audio stream in the file")
        context = container.streams.audio[0].codec_context
        if context is None:  # a stream whose codec FFmpeg does not know (a damaged or foreign header)
            raise AudioError(f"undecodable audio ({len(data)} bytes): its audio stream has no codec FFmpeg can decode")
        return int(context.channels or 1)


def decode_channels(data: bytes, max_audio_s: float) -> list[np.ndarray]:
    """Encoded bytes -> one 16 kHz float32 array per channel: [mono] for a mono file, [left, right]
    for stereo (more channels are downmixed to stereo first by FFmpeg)."""
    import av
    from faster_whisper.audio import decode_audio

    try:
        channels = channel_count(data) if data else 1
    except av.error.FFmpegError as exc:
        raise AudioError(f"undecodable audio ({len(data)} bytes): {exc}") from None
    if channels < 2:
        return [decode(data, max_audio_s)]
    try:
        declared = probe_duration(data)
        if declared is not None and declared > max_audio_s + 0.5:
            raise AudioError(f"audio is {declared:.1f} s long, over max_audio_s={max_audio_s:g} (not transcribed)")
        left, right = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE, split_stereo=True)
    except av.error.FFmpegError as exc:
        raise AudioError(f"undecodable audio ({len(data)} bytes): {exc}") from None
    if left.size == 0:
        raise AudioError(f"no audio samples decoded from {len(data)} bytes (empty or truncated file)")
    if left.size / SAMPLE_RATE > max_audio_s:
        raise AudioError(f"audio is {left.size / SAMPLE_RATE:.1f} s long, over max_audio_s={max_audio_s:g} "
                         "(not transcribed)")
    return [left, right]


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


# ---- models --------------------------------------------------------------------------------------

@dataclass
class Transcript:
    text: str
    language: str  # the dominant language (most seconds of segments)
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    duration_s: float
    speech_s: float
    segments: list[dict] = field(default_factory=list)
    model: str = ""
    languages: list[str] = field(default_factory=list)  # every language of the segments, most seconds first
    speech_regions: list[dict] = field(default_factory=list)  # VAD regions, with their language when detected
    channels: list[dict] = field(default_factory=list)  # channels="split": one transcript dict per channel


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
    """One faster-whisper model; `decode` is thread-safe up to `num_workers` parallel calls."""

    def __init__(self, model_dir: Path, metadata: dict, *, device: str = "cpu", device_index: int = 0,
                 compute_type: str = "default", cpu_threads: int = 0, num_workers: int = 1,
                 batched: bool = False, batch_size: int = 16, batched_from_s: float = 0.0):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.name = metadata.get("name") or Path(model_dir).name
        self.model = WhisperModel(str(model_dir), device=device, device_index=device_index,
                                  compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers)
        self.multilingual = bool(self.model.model.is_multilingual)
        self.languages = set(self.model.supported_languages)
        self.pipeline = BatchedInferencePipeline(self.model)
        self.batched = batched  # every clip through the batched pipeline (GPU)
        self.batched_from_s = batched_from_s  # > 0: clips at least this long too (long audio on CPU)
        self.batch_size = batch_size

    def detect_language(self, samples: np.ndarray) -> tuple[str, float]:
        """(language, probability) of the first 30 s of `samples` (multilingual models)."""
        return self.detect_languages([samples])[0]

    def detect_languages(self, chunks: list[np.ndarray], batch_size: int = 8) -> list[tuple[str, float]]:
        """(language, probability) of each chunk (its first 30 s), `batch_size` chunks per encoder call.
        The encoder first sees each chunk's own length plus 1 s (at least DETECT_MIN_S) instead of a
        padded 30-s window (CTranslate2 encodes shorter inputs: ~7x faster on short regions); a chunk
        whose language is then below DETECT_SURE probability is detected again on the full window
        (same languages as full windows on the test recordings; docs/asr.md)."""
        found = self._detect(chunks, batch_size, full=False)
        unsure = [i for i, (_, probability) in enumerate(found) if probability < DETECT_SURE]
        for i, again in zip(unsure, self._detect([chunks[i] for i in unsure], batch_size, full=True)):
            found[i] = again
        return found

    def _detect(self, chunks: list[np.ndarray], batch_size: int, full: bool) -> list[tuple[str, float]]:
        extractor = self.model.feature_extractor
        frames_per_s = extractor.nb_max_frames / WINDOW_S
        found = []
        for first in range(0, len(chunks), max(1, batch_size)):
            part = chunks[first:first + batch_size]
            features = [extractor(c[:extractor.n_samples])[..., :extractor.nb_max_frames] for c in part]
            wanted = WINDOW_S if full else max(DETECT_MIN_S, max(c.size / SAMPLE_RATE + 1.0 for c in part))
            frames = int(min(extractor.nb_max_frames, wanted * frames_per_s))
            batch = np.zeros((len(features), features[0].shape[0], frames), dtype=np.float32)
            for i, f in enumerate(features):
                batch[i, :, :min(frames, f.shape[-1])] = f[:, :frames]
            for ranked in self.model.model.detect_language(self.model.encode(batch)):
                token, probability = ranked[0]
                found.append((token[2:-2], float(probability)))
        return found

    def use_batched(self, clip_s: float) -> bool:
        return self.batched or (self.batched_from_s > 0 and clip_s >= self.batched_from_s)

    def decode(self, samples: np.ndarray, language: str | None, options: AsrOptions,
               clips: list[tuple[float, float]] | None = None, batched: bool | None = None) -> tuple[list[dict], str]:
        """(segment dicts, decoded language) for the whole clip, or only `clips` (start, end seconds);
        `batched`: the VAD-chunked BatchedInferencePipeline (default: as configured for this length)."""
        if language and language not in self.languages:
            raise AudioError(f"model {self.name} does not know language {language!r}")
        vad = options.vad_filter and clips is None
        common = dict(
            language=language or None, beam_size=options.beam_size,
            compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.log_prob_threshold, no_speech_threshold=options.no_speech_threshold,
            vad_filter=vad, vad_parameters={"threshold": options.vad_threshold},
            word_timestamps=options.word_timestamps, initial_prompt=options.initial_prompt,
            hotwords=options.hotwords,
        )
        if batched if batched is not None else self.use_batched(samples.size / SAMPLE_RATE):
            windows = [{"start": s, "end": e} for s, e in clips] if clips else fixed_windows(samples)
            segments, info = self.pipeline.transcribe(
                samples, batch_size=self.batch_size, temperature=options.temperature,
                clip_timestamps=None if vad else windows, **common)
            segments = [s for s in segments if not is_silent_window(s, options)]
        else:
            clip_timestamps = [t for clip in clips for t in clip] if clips else "0"
            segments, info = self.model.transcribe(
                samples, temperature=options.temperatures(), clip_timestamps=clip_timestamps,
                condition_on_previous_text=options.condition_on_previous_text, **common)
        decoded = info.language or language or ""
        return [segment_dict(s, decoded, self.name) for s in segments], decoded  # the generator decodes here


def segment_dict(segment, language: str, model: str) -> dict:
    out = {"start": round(float(segment.start), 3), "end": round(float(segment.end), 3), "text": segment.text.strip(),
           "avg_logprob": round(float(segment.avg_logprob), 4),
           "no_speech_prob": round(float(segment.no_speech_prob), 4),
           "compression_ratio": round(float(segment.compression_ratio), 4), "language": language, "model": model,
           "tokens": len(segment.tokens)}
    if segment.words:
        out["words"] = [{"start": round(float(w.start), 3), "end": round(float(w.end), 3), "word": w.word.strip(),
                         "probability": round(float(w.probability), 3)} for w in segment.words]
    return out


def is_silent_window(segment, options: AsrOptions) -> bool:
    """Whisper's no-speech rule, which the batched pipeline does not apply itself."""
    return segment.no_speech_prob > options.no_speech_threshold and segment.avg_logprob < options.log_prob_threshold


def fixed_windows(samples: np.ndarray) -> list[dict]:
    """30 s windows covering the whole clip (the batched pipeline needs explicit clips without VAD)."""
    seconds = samples.size / SAMPLE_RATE
    starts = np.arange(0.0, max(seconds, 1e-3), WINDOW_S)
    return [{"start": float(s), "end": float(min(s + WINDOW_S, seconds))} for s in starts]


def languages_by_seconds(segments: list[dict]) -> list[str]:
    seconds: dict[str, float] = {}
    for s in segments:
        if s.get("language"):
            seconds[s["language"]] = seconds.get(s["language"], 0.0) + max(s["end"] - s["start"], 0.0) + 1e-6
    return sorted(seconds, key=lambda lang: -seconds[lang])


def summarize(segments: list[dict], language: str, duration: float, speech: float, model: str) -> Transcript:
    """Per-clip scores from the segment dicts (segments of only non-words dropped first): token-weighted
    mean log-probability, duration-weighted no-speech probability (1.0 when nothing was transcribed:
    the silent clip's values), gzip compression ratio of the text; segments sorted by start."""
    from faster_whisper.transcribe import get_compression_ratio

    segments = sorted((s for s in segments if not is_non_words(s["text"])), key=lambda s: (s["start"], s["end"]))
    text = " ".join(s["text"] for s in segments)
    tokens = sum(s.get("tokens", 0) for s in segments)
    span = sum(max(s["end"] - s["start"], 0.0) for s in segments)
    avg_logprob = sum(s["avg_logprob"] * s.get("tokens", 0) for s in segments) / tokens if tokens else 0.0
    if span > 0:
        no_speech = sum(s["no_speech_prob"] * max(s["end"] - s["start"], 0.0) for s in segments) / span
    else:
        no_speech = max((s["no_speech_prob"] for s in segments), default=1.0)
    languages = languages_by_seconds(segments)
    models = list(dict.fromkeys(s["model"] for s in segments if s.get("model"))) or [model]
    return Transcript(
        text=text, language=languages[0] if languages else (language or ""), avg_logprob=float(avg_logprob),
        no_speech_prob=float(no_speech), compression_ratio=float(get_compression_ratio(text)) if text else 0.0,
        duration_s=float(duration), speech_s=float(speech), model=",".join(models),
        segments=[{k: v for k, v in s.items() if k not in ("tokens", "model") or len(models) > 1 and k == "model"}
                  for s in segments],
        languages=languages or ([language] if language else []),
    )


class ModelRouter:
    """Which engine serves a row: the requested model, else the default for English / no language,
    else a multilingual model (the default if it is one, then by name)."""

    def __init__(self, engines: list[WhisperEngine], default_model: str):
        self.engines = {e.name: e for e in engines}
        if default_model and default_model not in self.engines:
            raise ValueError(f"default_model {default_model!r} is not loaded (loaded: {', '.join(self.engines)})")
        self.default = self.engines[default_model] if default_model else next(iter(self.engines.values()))

    def multilingual(self) -> WhisperEngine | None:
        """The multilingual engine that detects and serves other languages: the default if it is one,
        else the first by name; None when only English-only models are loaded."""
        if self.default.multilingual:
            return self.default
        return next((e for e in sorted(self.engines.values(), key=lambda e: e.name) if e.multilingual), None)

    def detector(self, requested: str | None) -> WhisperEngine | None:
        """The engine that detects languages for a request: the requested model when multilingual,
        else the multilingual one (None: nothing can detect)."""
        engine = self.engines.get(requested) if requested else None
        return engine if engine is not None and engine.multilingual else self.multilingual()

    def for_language(self, requested: str | None, language: str | None) -> WhisperEngine | None:
        """The engine for speech detected as `language`; None when the requested model is English-only
        and the speech is not English (it is left untranscribed, never written over in English)."""
        engine = self.pick(requested, None) if requested else None
        if engine is not None:
            return engine if engine.multilingual or not language or language == "en" else None
        return self.pick(None, language)

    def pick(self, requested: str | None, language: str | None) -> WhisperEngine:
        if requested:
            engine = self.engines.get(requested)
            if engine is None:
                raise AudioError(f"no transcribe model {requested!r}; loaded: {', '.join(sorted(self.engines))}")
        elif not language or language == "en" or self.default.multilingual:
            engine = self.default
        else:
            engine = self.multilingual()
            if engine is None:
                raise AudioError(f"LANGUAGE={language!r} needs a multilingual model; loaded: "
                                 f"{', '.join(sorted(self.engines))} (English-only)")
        if language and language != "en" and not engine.multilingual:
            raise AudioError(f"model {engine.name} is English-only; LANGUAGE={language!r} needs a multilingual model")
        return engine
