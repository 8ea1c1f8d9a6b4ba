"""Talk to Triton over gRPC. `TritonClient` holds what every model's client shares: one channel,
at most `concurrency` requests in flight, retries with backoff on UNAVAILABLE / timeouts.
`TritonTranslateClient` adds `translate()` for the translate-shaped models (`translate`, `echo`);
the ASR client (tasks/triton_asr_client.py) adds `transcribe()`."""
from __future__ import annotations

import asyncio
import logging
import random
import struct
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException

log = logging.getLogger(__name__)

RETRYABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED")
OUTPUTS = ("TRANSLATION", "LOGPROB", "MODEL")
# Prefect global concurrency limit: shard tasks in flight against one Triton, across all runs
# (created by `sentinel deploy-local`; without it, shard tasks are not limited).
TRITON_CONCURRENCY_LIMIT = "triton-shards"


class TritonUnavailable(RuntimeError):
    """Triton did not answer after every retry: the shard is not committed and must be rerun."""


class TritonRequestRejected(RuntimeError):
    """Triton answered with a permanent error for this request (bad pair, bad input)."""


@dataclass(frozen=True)
class TritonCallSettings:
    url: str = "127.0.0.1:8001"
    model_name: str = "translate"
    batch_size: int = 32
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 6
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    decoding: dict = field(default_factory=dict)  # beam_size, max_decoding_length, ...


@dataclass
class Translations:
    texts: list[str]
    logprobs: list[float]
    models: list[str]


_LENGTH = struct.Struct("<I")


def encode_bytes_tensor(values: list[str] | list[bytes]) -> bytes:
    """Triton's BYTES wire format (each element: 4-byte little-endian length, then its bytes);
    the same bytes as tritonclient's serialize_byte_tensor, without the numpy round trips."""
    pack = _LENGTH.pack
    encoded = [v if isinstance(v, bytes) else v.encode("utf-8") for v in values]
    return b"".join([part for item in encoded for part in (pack(len(item)), item)])


def decode_bytes_tensor(raw: bytes, count: int | None = None) -> list[str]:
    """The strings of a BYTES tensor (invalid UTF-8 replaced). When every element is the same
    (e.g. MODEL), one comparison instead of a loop."""
    if not raw:
        return []
    unpack = _LENGTH.unpack_from
    first = unpack(raw, 0)[0] + 4
    if count and len(raw) == first * count and raw == raw[:first] * count:
        return [raw[4:first].decode("utf-8", "replace")] * count
    out, pos, end = [], 0, len(raw)
    while pos < end:
        size = unpack(raw, pos)[0]
        pos += 4
        out.append(raw[pos:pos + size].decode("utf-8", "replace"))
        pos += size
    return out


def _raw_input(name: str, rows: int, raw: bytes) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, [rows, 1], "BYTES")
    if hasattr(tensor, "_raw_content"):  # tritonclient keeps a tensor's wire bytes here
        tensor._raw_content = raw
    else:  # pragma: no cover - another tritonclient layout: the public (slower) path
        values = decode_bytes_tensor(raw)
        tensor.set_data_from_numpy(np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(-1, 1))
    return tensor


def _bytes_input(name: str, values: list[str]) -> grpcclient.InferInput:
    return _raw_input(name, len(values), encode_bytes_tensor(values))


def _repeated_input(name: str, value: str, rows: int) -> grpcclient.InferInput:
    item = value.encode("utf-8")
    return _raw_input(name, rows, (_LENGTH.pack(len(item)) + item) * rows)


def _inputs(texts: list[str], src_lang: str, tgt_lang: str) -> list[grpcclient.InferInput]:
    rows = len(texts)
    return [_bytes_input("TEXT", texts), _repeated_input("SRC_LANG", src_lang, rows),
            _repeated_input("TGT_LANG", tgt_lang, rows)]


def _decode(result, rows: int) -> "Translations":
    """TRANSLATION / LOGPROB / MODEL straight from the response's raw contents."""
    response = result.get_response()
    raw = dict(zip((o.name for o in response.outputs), response.raw_output_contents))
    if len(raw) < len(OUTPUTS):  # outputs not sent as raw contents: tritonclient's own decoding
        decode = lambda name: [v.decode("utf-8", "replace") for v in result.as_numpy(name).reshape(-1)]  # noqa: E731
        return Translations(decode("TRANSLATION"), result.as_numpy("LOGPROB").reshape(-1).astype(float).tolist(),
                            decode("MODEL"))
    return Translations(decode_bytes_tensor(raw["TRANSLATION"], rows),
                        np.frombuffer(raw["LOGPROB"], dtype=np.float32).astype(float).tolist(),
                        decode_bytes_tensor(raw["MODEL"], rows))


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (asyncio.TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, InferenceServerException):
        status = str(exc.status() or "")
        return any(code in status for code in RETRYABLE) or "failed to connect" in str(exc).lower()
    return False


class TritonClient:
    """One gRPC channel to one Triton, at most `settings.concurrency` requests in flight (`_slots`),
    and `_with_retries` for a request. Use inside one event loop; `async with` closes the channel."""

    def __init__(self, settings: TritonCallSettings):
        self.settings = settings
        self._client = grpcclient.InferenceServerClient(settings.url)
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _with_retries(self, inputs, outputs, decoding: dict | None = None):
        """One inference on `settings.model_name`; transient failures are retried with backoff
        (TritonUnavailable when they outlast `max_retries`), others raise TritonRequestRejected."""
        s = self.settings
        parameters = (s.decoding if decoding is None else decoding) or None
        for attempt in range(s.max_retries + 1):
            try:
                return await self._client.infer(
                    s.model_name, inputs, outputs=outputs, client_timeout=s.timeout_s,
                    parameters=parameters,
                )
            except Exception as exc:  # noqa: BLE001 - classified below
                if not is_retryable(exc):
                    raise TritonRequestRejected(f"Triton model {s.model_name!r} rejected a request: {exc}") from exc
                if attempt == s.max_retries:
                    raise TritonUnavailable(
                        f"Triton at {s.url} unavailable after {attempt + 1} attempts: {exc}") from exc
                delay = min(s.max_backoff_s, s.backoff_s * 2 ** attempt) * (0.5 + random.random() / 2)
                log.warning("Triton call failed (%s); retry %d/%d in %.1fs", exc, attempt + 1, s.max_retries, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class TritonTranslateClient(TritonClient):
    """`translate()` for the translate-shaped models, over TritonClient's channel, slots and retries."""

    def __init__(self, settings: TritonCallSettings):
        super().__init__(settings)
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
