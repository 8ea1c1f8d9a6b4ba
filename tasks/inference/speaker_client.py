"""Speaker embeddings of a clip's speech windows from Triton's `speaker` model
(triton/model_repository/speaker/README.md): one clip per request, `concurrency` in flight, the
retries of TritonClient; a clip the model refuses comes back with its reason in `error`.

    async with TritonSpeakerClient(speaker_settings(url)) as client:
        [found] = await client.embed([clip_bytes], regions=[[[0.4, 6.2], [8.0, 12.5]]])
        found.windows, found.embeddings, found.speech
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import numpy as np
import tritonclient.grpc.aio as grpcclient

from tasks.inference.asr_client import rejection_reason
from tasks.inference.client import TritonCallSettings, TritonClient, TritonRequestRejected
from tasks.inference.wire import encode_bytes_tensor, raw_input

SPEAKER_MODEL = "speaker"
SPEAKER_DIM = 256
OUTPUTS = ("EMBEDDING", "WINDOW", "SPEECH", "DURATION_S")


def speaker_settings(url: str, **overrides) -> TritonCallSettings:
    """Call settings for `speaker`: one clip per request, 4 in flight, 300 s per request."""
    return TritonCallSettings(**{"url": url, "model_name": SPEAKER_MODEL, "batch_size": 1, "concurrency": 4,
                                 "timeout_s": 300.0, **overrides})


@dataclass
class SpeakerWindows:
    """One clip's windows (float32 [n, 2] seconds) and their embeddings (float32 [n, 256]), the speech
    pieces they were cut from; or the model's reason for refusing the clip (`error`)."""

    windows: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, SPEAKER_DIM), np.float32))
    speech: list[tuple[float, float]] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None


class TritonSpeakerClient(TritonClient):
    """`embed()` over TritonClient's channel, slots and retries; `settings.decoding` holds the window
    parameters (window_s, step_s, ...), empty = the model's config defaults."""

    async def embed(self, clips: list[bytes], regions: list[list | None] | None = None) -> list[SpeakerWindows]:
        """One SpeakerWindows per clip, in order; `regions[i]`: the speech of clip i ([[start, end], ...]
        seconds, e.g. the `transcribe` model's SPEECH_REGIONS), None: the model finds it."""
        regions = regions if regions is not None else [None] * len(clips)
        if len(regions) != len(clips):
            raise ValueError(f"{len(regions)} region lists for {len(clips)} clips")
        return list(await asyncio.gather(*(self._embed_one(c, r) for c, r in zip(clips, regions))))

    async def _embed_one(self, clip: bytes, regions: list | None) -> SpeakerWindows:
        parameters = dict(self.settings.decoding)
        if regions is not None:
            if not regions:  # no speech at all: nothing to embed
                return SpeakerWindows()
            parameters["regions"] = json.dumps([[round(float(a), 3), round(float(b), 3)] for a, b in regions])
        outputs = [grpcclient.InferRequestedOutput(name) for name in OUTPUTS]
        try:
            async with self._slots:
                result = await self._with_retries([raw_input("AUDIO", 1, encode_bytes_tensor([clip]), shape=[1])],
                                                  outputs, decoding=parameters)
        except TritonRequestRejected as exc:
            return SpeakerWindows(error=rejection_reason(exc))
        embeddings = result.as_numpy("EMBEDDING").astype(np.float32, copy=False).reshape(-1, SPEAKER_DIM)
        windows = result.as_numpy("WINDOW").astype(np.float32, copy=False).reshape(-1, 2)
        if len(windows) != len(embeddings):
            raise TritonRequestRejected(f"Triton model {self.settings.model_name!r} returned {len(embeddings)} "
                                        f"embeddings for {len(windows)} windows")
        speech = [(float(a), float(b)) for a, b in json.loads(result.as_numpy("SPEECH").reshape(-1)[0] or "[]")]
        return SpeakerWindows(windows, embeddings, speech, float(result.as_numpy("DURATION_S").reshape(-1)[0]))


def speaker_model_ready(url: str, timeout_s: float = 5.0) -> bool:
    """Whether Triton at `url` serves a ready `speaker` model."""
    import tritonclient.grpc as grpc_sync

    try:
        client = grpc_sync.InferenceServerClient(url.split(",")[0].strip())
        try:
            return bool(client.is_model_ready(SPEAKER_MODEL, client_timeout=timeout_s))
        finally:
            client.close()
    except Exception:
        return False
