"""Talk to Triton over gRPC. `TritonClient` holds what every model's client shares: one channel per
endpoint (`settings.url` may list several, comma-separated: the client fails over between them),
at most `concurrency` requests in flight, and retries decided by cause (tasks/triton_errors.py):
a server that restarts, drains or reloads its model is waited for (its readiness polled), a full
queue or a timeout retried with backoff, and only errors the request itself causes raise
TritonRequestRejected. `TritonTranslateClient` adds `translate()` for the translate-shaped models
(`translate`, `echo`); the ASR client (tasks/triton_asr_client.py) adds `transcribe()`."""
from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import tritonclient.grpc.aio as grpcclient

from tasks.triton_errors import Kind, TritonFailure, classify

log = logging.getLogger(__name__)

OUTPUTS = ("TRANSLATION", "LOGPROB", "MODEL")
# Prefect global concurrency limit: shard tasks in flight against one Triton, across all runs
# (created by `sentinel deploy-local`; without it, shard tasks are not limited).
TRITON_CONCURRENCY_LIMIT = "triton-shards"


class TritonUnavailable(RuntimeError):
    """Triton did not serve the request (down, not ready, overloaded past every retry, or set up
    wrongly for it): no row is failed, the shard is not committed, a retry or rerun redoes it."""


class TritonRequestRejected(RuntimeError):
    """Triton refused this request for what it carries (bad audio, unsupported pair, ...): its rows fail."""


@dataclass(frozen=True)
class TritonCallSettings:
    url: str = "127.0.0.1:8001"  # host:port of the gRPC endpoint; several, comma-separated: failover
    model_name: str = "translate"
    batch_size: int = 32
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 6  # retries of a request a ready server failed (queue full, timeout)
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    decoding: dict = field(default_factory=dict)  # beam_size, max_decoding_length, ...
    # how long one request waits, in all, for a server or model that is not ready (restart, drain, reload)
    ready_timeout_s: float = 180.0

    @property
    def urls(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


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


# what tritonclient sets by default, plus a short reconnect backoff: after a restart, calls reach the
# server within ~2 s (gRPC's default reconnect backoff grows to 120 s while a server is down)
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1), ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.keepalive_time_ms", 2**31 - 1), ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", False), ("grpc.http2.max_pings_without_data", 2),
    ("grpc.initial_reconnect_backoff_ms", 250), ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]
READY_POLL_S = (0.25, 2.0)  # readiness polls while waiting: first interval, longest interval


@dataclass
class RetryCounts:
    """What a client's retries cost so far (the chaos suite reports them)."""

    requests_retried: int = 0
    rows_retried: int = 0
    failures: int = 0
    failovers: int = 0
    waited_s: float = 0.0


@dataclass
class _Attempts:
    """One request's retry state."""

    rows: int
    started: float = field(default_factory=time.monotonic)
    retries: int = 0
    failures: int = 0
    failovers: int = 0
    waited_s: float = 0.0


class TritonClient:
    """One gRPC channel per endpoint, at most `settings.concurrency` requests in flight (`_slots`),
    and `_with_retries` for a request. Use inside one event loop; `async with` closes the channels."""

    def __init__(self, settings: TritonCallSettings):
        if not settings.urls:
            raise ValueError("TritonCallSettings.url names no endpoint")
        self.settings = settings
        self.urls = settings.urls
        self._clients = [grpcclient.InferenceServerClient(url, channel_args=CHANNEL_ARGS) for url in self.urls]
        self._active = 0  # the endpoint requests go to; moves on when it fails
        self._slots = asyncio.Semaphore(settings.concurrency)
        self.retried = RetryCounts()

    @property
    def _client(self) -> grpcclient.InferenceServerClient:
        return self._clients[self._active]

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self._clients))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _with_retries(self, inputs, outputs, decoding: dict | None = None):
        """One inference on `settings.model_name`. Failures are classified (tasks/triton_errors.py):
        a server or model that is not ready is waited for (another endpoint tried first), other
        transient ones retried with backoff; TritonUnavailable when that outlasts the bounds
        (`ready_timeout_s`, `max_retries`), TritonRequestRejected only for what the request causes."""
        s = self.settings
        parameters = (s.decoding if decoding is None else decoding) or None
        attempts = _Attempts(rows=_rows(inputs))
        while True:
            endpoint = self._active
            try:
                result = await self._clients[endpoint].infer(
                    s.model_name, inputs, outputs=outputs, client_timeout=s.timeout_s, parameters=parameters)
            except Exception as exc:  # classified below; not a failure of the call: re-raised as is
                failure = classify(exc)
                if failure is None:
                    raise
                await self._after_failure(failure, exc, endpoint, attempts)
                continue
            if attempts.failures:
                self._count_recovery(attempts)
            return result

    async def _after_failure(self, failure: TritonFailure, exc: Exception, endpoint: int,
                             attempts: _Attempts) -> None:
        """Return to send the request again (after failing over, waiting or backing off), or raise."""
        s, url = self.settings, self.urls[endpoint]
        if failure.kind is Kind.INPUT and failure.check_ready and not await self._model_ready(endpoint):
            failure = TritonFailure(Kind.TRANSIENT, f"{failure.cause} while the model is not ready", failure.status,
                                    failure.message, waits_for_ready=True)
        if failure.kind is Kind.INPUT:
            raise TritonRequestRejected(f"Triton model {s.model_name!r} rejected a request: {exc}") from exc
        if failure.kind is Kind.SERVER:
            raise TritonUnavailable(f"Triton at {url} cannot serve model {s.model_name!r} as called "
                                    f"({failure.cause}: {failure.message}); no row failed, fix and rerun") from exc
        attempts.failures += 1
        what = f"{failure.cause} at {url}: {failure.message}"
        if len(self._clients) > 1 and attempts.failovers < len(self._clients) - 1:
            attempts.failovers += 1
            self.retried.failovers += 1
            if self._active == endpoint:
                self._active = (endpoint + 1) % len(self._clients)
            log.warning("Triton call failed (%s); failing over to %s", what, self.urls[self._active])
            return
        attempts.failovers = 0
        if failure.waits_for_ready or attempts.retries >= s.max_retries:
            # the server or model is not there, or retries are spent: ask for its readiness, wait for it
            waited = await self._wait_until_ready(attempts, what)
            if waited is None:
                raise TritonUnavailable(
                    f"Triton model {s.model_name!r} not ready at {', '.join(self.urls)} after {attempts.failures} "
                    f"failed attempts and {attempts.waited_s:.0f} s waiting ({what})") from exc
            if waited > 0:
                return  # it was not ready and now is: a retry that does not count
        attempts.retries += 1
        if attempts.retries > s.max_retries:
            raise TritonUnavailable(f"Triton at {url} unavailable after {attempts.failures} attempts "
                                    f"while the model is ready ({what})") from exc
        delay = min(s.max_backoff_s, s.backoff_s * 2 ** (attempts.retries - 1)) * (0.5 + random.random() / 2)
        log.warning("Triton call failed (%s); retry %d/%d in %.1fs", what, attempts.retries, s.max_retries, delay)
        await asyncio.sleep(delay)

    async def _model_ready(self, endpoint: int) -> bool:
        try:
            return bool(await self._clients[endpoint].is_model_ready(self.settings.model_name, client_timeout=5.0))
        except Exception:  # down, draining ("Server exiting"), unreachable: not ready
            return False

    async def _wait_until_ready(self, attempts: _Attempts, what: str) -> float | None:
        """Poll every endpoint's model readiness until one is ready (it becomes the active one);
        the seconds waited (0: ready at the first poll), or None when `ready_timeout_s` is spent."""
        poll, started, logged = READY_POLL_S[0], time.monotonic(), False
        while True:
            for offset in range(len(self._clients)):
                endpoint = (self._active + offset) % len(self._clients)
                if await self._model_ready(endpoint):
                    self._active = endpoint
                    waited = time.monotonic() - started
                    attempts.waited_s += waited
                    return waited if logged else 0.0
            spent = attempts.waited_s + time.monotonic() - started
            if spent >= self.settings.ready_timeout_s:
                attempts.waited_s = spent
                return None
            if not logged:
                log.warning("Triton call failed (%s); model %r not ready: waiting for it (up to %.0f s more)",
                            what, self.settings.model_name, self.settings.ready_timeout_s - spent)
                logged = True
            await asyncio.sleep(min(poll, self.settings.ready_timeout_s - spent))
            poll = min(READY_POLL_S[1], poll * 2)

    def _count_recovery(self, attempts: _Attempts) -> None:
        counts = self.retried
        counts.requests_retried += 1
        counts.rows_retried += attempts.rows
        counts.failures += attempts.failures
        counts.waited_s += attempts.waited_s
        log.warning("Triton request of %d rows served by %s after %d failed attempts (%.1f s)", attempts.rows,
                    self.urls[self._active], attempts.failures, time.monotonic() - attempts.started)


def _rows(inputs) -> int:
    try:
        return int(inputs[0].shape()[0])
    except (IndexError, AttributeError, TypeError):
        return 0


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
