"""Request options of the `transcribe` model: the parameters a request may set (Triton's JSON
`parameters`), checked and turned into AsrOptions; AudioError for what a request gets wrong. No
Triton import (tests run it directly)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace


class AudioError(ValueError):
    """Bad audio or bad request options for one request: becomes that request's error."""


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
    "language_per_region": (bool, None, None),
    "channels": (str, None, None),
    "regions": (str, None, None),
    "word_timestamps": (bool, None, None),
    "channel": (int, 0, 1),
    "initial_prompt": (str, None, None),
    "hotwords": (str, None, None),
}
MAX_PROMPT_CHARS = 2000  # Whisper keeps at most 223 prompt tokens; longer text is cut by faster-whisper
CHANNEL_MODES = ("mix", "split")


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
    language_per_region: bool = True  # no LANGUAGE given: detect the language of each speech region
    channels: str = "mix"  # "split": every channel transcribed on its own
    regions: str | None = None  # JSON [[start, end], ...]: decode only these regions, each on its own
    word_timestamps: bool = False
    channel: int | None = None  # only this channel of a stereo file (a per-channel retry)
    initial_prompt: str | None = None  # text before the first window (vocabulary, context); a row's PROMPT is added
    hotwords: str | None = None  # words or phrases put before every window's prompt (faster-whisper's hotwords)

    def with_prompt(self, row_prompt: str | None) -> AsrOptions:
        """These options with a row's own prompt after the request's `initial_prompt`."""
        text = " ".join(p.strip() for p in (self.initial_prompt, row_prompt) if p and p.strip())
        if len(text) > MAX_PROMPT_CHARS:
            raise AudioError(f"prompt is {len(text)} characters, over {MAX_PROMPT_CHARS}")
        return replace(self, initial_prompt=text or None)

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
    if values.get("channels") is not None and values["channels"] not in CHANNEL_MODES:
        raise AudioError(f"parameter channels={values['channels']!r} is not one of {', '.join(CHANNEL_MODES)}")
    values["channels"] = values.get("channels") or "mix"
    for key in ("initial_prompt", "hotwords"):
        if values.get(key) is not None and len(values[key]) > MAX_PROMPT_CHARS:
            raise AudioError(f"parameter {key} is {len(values[key])} characters, over {MAX_PROMPT_CHARS}")
    options = AsrOptions(**values)
    if options.max_audio_s is not None and options.max_audio_s > max_audio_cap:
        raise AudioError(f"parameter max_audio_s={options.max_audio_s:g} is above the server's limit {max_audio_cap:g}")
    return options
