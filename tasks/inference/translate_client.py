"""`TritonTranslateClient.translate()` for the translate-shaped models (`translate`, `echo`): TEXT,
SRC_LANG and TGT_LANG in; TRANSLATION, LOGPROB and MODEL out, decoded from the response's raw
contents. Client batches are sent concurrently over the base client's channels, slots and retries
(tasks/inference/client.py)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc.aio as grpcclient

from tasks.inference.client import TritonCallSettings, TritonClient
from tasks.inference.wire import bytes_input, decode_bytes_tensor, repeated_input

OUTPUTS = ("TRANSLATION", "LOGPROB", "MODEL")


@dataclass
class Translations:
    texts: list[str]
    logprobs: list[float]
    models: list[str]


def _inputs(texts: list[str], src_lang: str, tgt_lang: str) -> list[grpcclient.InferInput]:
    rows = len(texts)
    return [bytes_input("TEXT", texts), repeated_input("SRC_LANG", src_lang, rows),
            repeated_input("TGT_LANG", tgt_lang, rows)]


def _decode(result, rows: int) -> Translations:
    """TRANSLATION / LOGPROB / MODEL straight from the response's raw contents."""
    response = result.get_response()
    raw = dict(zip((o.name for o in response.outputs), response.raw_output_contents, strict=False))
    if len(raw) < len(OUTPUTS):  # outputs not sent as raw contents: tritonclient's own decoding
        decode = lambda name: [v.decode("utf-8", "replace") for v in result.as_numpy(name).reshape(-1)]  # noqa: E731
        return Translations(decode("TRANSLATION"), result.as_numpy("LOGPROB").reshape(-1).astype(float).tolist(),
                            decode("MODEL"))
    return Translations(decode_bytes_tensor(raw["TRANSLATION"], rows),
                        np.frombuffer(raw["LOGPROB"], dtype=np.float32).astype(float).tolist(),
                        decode_bytes_tensor(raw["MODEL"], rows))


class TritonTranslateClient(TritonClient):
    """`translate()` for the translate-shaped models, over TritonClient's channel, slots and retries."""

    def __init__(self, settings: TritonCallSettings, connect=None):
        super().__init__(settings, connect)
        self._outputs = [grpcclient.InferRequestedOutput(name) for name in OUTPUTS]  # read-only: shared

    async def translate(self, texts: list[str], src_lang: str, tgt_lang: str,
                        decoding: dict | None = None) -> Translations:
        """Translate any number of rows of one language pair, in client batches sent concurrently.
        `decoding` replaces the settings' decoding parameters for this call (e.g. a beam-search retry)."""
        size = self.settings.batch_size
        chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
        results = await asyncio.gather(*(self._infer(chunk, src_lang, tgt_lang, decoding) for chunk in chunks))
        merged = Translations([], [], [])
        for part in results:
            merged.texts += part.texts
            merged.logprobs += part.logprobs
            merged.models += part.models
        return merged

    async def _infer(self, texts: list[str], src_lang: str, tgt_lang: str, decoding: dict | None) -> Translations:
        async with self._slots:
            # built inside the slot: at most `concurrency` requests' bytes exist at once
            result = await self._with_retries(_inputs(texts, src_lang, tgt_lang), self._outputs, decoding)
        return _decode(result, len(texts))
