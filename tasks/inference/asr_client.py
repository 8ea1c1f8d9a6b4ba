"""`TritonAsrClient.transcribe()` for Triton's `transcribe` model: a few clips per request, over the
base client's channels (one per endpoint), in-flight limit and cause-classified retries
(tasks/inference/client.py), and bad-row isolation: Triton answers per request, so a request
rejected for one bad clip is re-sent one clip per request, and only the bad clips come back with an
error."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException

from tasks.inference.client import TritonClient, TritonRequestRejected
from tasks.inference.wire import encode_bytes_tensor, raw_input

ASR_MODEL = "transcribe"
FLOAT_OUTPUTS = ("AVG_LOGPROB", "NO_SPEECH_PROB", "COMPRESSION_RATIO", "DURATION_S", "SPEECH_S")
TEXT_OUTPUTS = ("TEXT", "LANGUAGE", "SEGMENTS", "MODEL", "LANGUAGES", "SPEECH_REGIONS", "CHANNELS")
CHANNEL_MODES = ("mix", "split")


@dataclass
class AsrResult:
    """One clip's transcript and scores, or the reason Triton refused it (`error`)."""

    text: str | None = None
    language: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    duration_s: float | None = None
    speech_s: float | None = None
    segments: str | None = None  # JSON list of {start, end, text, language, avg_logprob, no_speech_prob, ...}
    model: str | None = None
    error: str | None = None
    languages: list[str] | None = None  # every language of the segments, most seconds first
    speech_regions: str | None = None  # JSON list of VAD speech regions {start, end, language?, language_prob?}
    channels: list[AsrResult] | None = None  # channels="split": one result per channel, in channel order
    speakers: list[str] | None = None  # diarize: the speakers (S1, S2, ...) in order of first speech

    @property
    def segment_list(self) -> list[dict]:
        return json.loads(self.segments or "[]")

    @property
    def region_list(self) -> list[dict]:
        return json.loads(self.speech_regions or "[]")

    @classmethod
    def from_channel(cls, channel: dict) -> AsrResult:
        """One entry of the model's CHANNELS output as a result of its own."""
        return cls(text=channel["text"], language=channel["language"], languages=channel.get("languages"),
                   avg_logprob=channel["avg_logprob"], no_speech_prob=channel["no_speech_prob"],
                   compression_ratio=channel["compression_ratio"], duration_s=channel["duration_s"],
                   speech_s=channel["speech_s"], model=channel.get("model"),
                   segments=json.dumps(channel["segments"], ensure_ascii=False),
                   speech_regions=json.dumps(channel["speech_regions"]))


def asr_parameters(*, vad_filter: bool = True, beam_size: int = 1, max_audio_s: float | None = None,
                   model: str | None = None, channels: str = "mix", hotwords: str | None = None,
                   initial_prompt: str | None = None, **extra) -> dict:
    """Request parameters for `transcribe` (see triton/model_repository/transcribe/README.md);
    `channels`: "mix" (one transcript of the downmix) or "split" (one per channel); `hotwords` and
    `initial_prompt` (faster-whisper's vocabulary options) only when set, so requests without them
    are what they were."""
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels={channels!r} is not one of {', '.join(CHANNEL_MODES)}")
    params = {"vad_filter": vad_filter, "beam_size": beam_size, **extra}
    for key, value in (("hotwords", hotwords), ("initial_prompt", initial_prompt)):
        if value and value.strip():
            params[key] = value.strip()
    if channels != "mix":
        params["channels"] = channels
    if max_audio_s is not None:
        params["max_audio_s"] = float(max_audio_s)
    if model:
        params["model"] = model
    return params


def _bytes_tensor(name: str, values: list[bytes]) -> grpcclient.InferInput:
    return raw_input(name, len(values), encode_bytes_tensor(values))


def rejection_reason(exc: TritonRequestRejected) -> str:
    """The model's own message (`undecodable audio ...`) without the gRPC status decoration."""
    cause = exc.__cause__
    if isinstance(cause, InferenceServerException) and cause.message():
        return cause.message()
    return str(exc)


class TritonAsrClient(TritonClient):
    """One gRPC channel, at most `settings.concurrency` requests in flight, `settings.batch_size`
    clips per request; `settings.decoding` holds the request parameters (asr_parameters)."""

    async def transcribe(self, clips: list[bytes], language: str | None = None, decoding: dict | None = None,
                         prompts: list[str | None] | None = None) -> list[AsrResult]:
        """One AsrResult per clip, in order; clips Triton refuses carry `error`, the others a transcript.
        `decoding` replaces the settings' request parameters for this call (e.g. a guarded retry);
        `prompts[i]`: clip i's own prompt (after the request's `initial_prompt`), None or "" = none."""
        if prompts is not None and len(prompts) != len(clips):
            raise ValueError(f"{len(prompts)} prompts for {len(clips)} clips")
        size = max(1, self.settings.batch_size)
        chunks = [(clips[i:i + size], prompts[i:i + size] if prompts else None) for i in range(0, len(clips), size)]
        results = await asyncio.gather(*(self._transcribe_isolating(part, language, decoding, row_prompts)
                                         for part, row_prompts in chunks))
        return [r for part in results for r in part]

    async def _transcribe_isolating(self, clips: list[bytes], language: str | None, decoding: dict | None = None,
                                    prompts: list[str | None] | None = None) -> list[AsrResult]:
        try:
            return await self._infer_clips(clips, language, decoding, prompts=prompts)
        except TritonRequestRejected as exc:
            if len(clips) == 1:
                return [AsrResult(error=rejection_reason(exc))]
        # one bad clip fails the whole request: find it by sending each clip alone
        singles = await asyncio.gather(*(self._transcribe_isolating([clip], language, decoding,
                                                                    [prompts[i]] if prompts else None)
                                         for i, clip in enumerate(clips)))
        return [r for part in singles for r in part]

    async def _infer_clips(self, clips: list[bytes], language: str | None, decoding: dict | None = None,
                           prompts: list[str | None] | None = None) -> list[AsrResult]:
        outputs = [grpcclient.InferRequestedOutput(name) for name in (*TEXT_OUTPUTS, *FLOAT_OUTPUTS)]
        async with self._slots:
            # serialized inside the slot: only the requests in flight hold a copy of their audio
            inputs = [_bytes_tensor("AUDIO", clips)]
            if language:
                inputs.append(_bytes_tensor("LANGUAGE", [language.encode()] * len(clips)))
            if prompts and any(prompts):
                inputs.append(_bytes_tensor("PROMPT", [(prompt or "").encode() for prompt in prompts]))
            result = await self._with_retries(inputs, outputs, decoding)
        texts = {n: [v.decode("utf-8", "replace") for v in result.as_numpy(n).reshape(-1)] for n in TEXT_OUTPUTS}
        floats = {n: result.as_numpy(n).reshape(-1).astype(float).tolist() for n in FLOAT_OUTPUTS}
        return [
            AsrResult(text=texts["TEXT"][i], language=texts["LANGUAGE"][i], segments=texts["SEGMENTS"][i],
                      model=texts["MODEL"][i], avg_logprob=floats["AVG_LOGPROB"][i],
                      no_speech_prob=floats["NO_SPEECH_PROB"][i], compression_ratio=floats["COMPRESSION_RATIO"][i],
                      duration_s=floats["DURATION_S"][i], speech_s=floats["SPEECH_S"][i],
                      languages=json.loads(texts["LANGUAGES"][i] or "[]"), speech_regions=texts["SPEECH_REGIONS"][i],
                      channels=[AsrResult.from_channel(c) for c in json.loads(texts["CHANNELS"][i] or "[]")] or None)
            for i in range(len(clips))
        ]
