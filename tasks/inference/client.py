"""Talk to Triton over gRPC. `TritonClient` holds what every model's client shares: one channel per
endpoint (`settings.url` may list several, comma-separated: the client fails over between them),
at most `concurrency` requests in flight, and retries decided by cause (tasks/inference/errors.py):
a server that restarts, drains or reloads its model is waited for (its readiness polled), a full
queue or a timeout retried with backoff, and only errors the request itself causes raise
TritonRequestRejected. Each model's client adds its call: `translate()` (translate_client.py, for
`translate` and `echo`), `transcribe()` (asr_client.py), `embed()` (embed_client.py)."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Self

import tritonclient.grpc.aio as grpcclient

from tasks.inference.errors import Kind, TritonFailure, classify

log = logging.getLogger(__name__)
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
        """One inference on `settings.model_name`. Failures are classified (tasks/inference/errors.py):
        a server or model that is not ready is waited for (another endpoint tried first), other
        transient ones retried with backoff; TritonUnavailable when that outlasts the bounds
        (`ready_timeout_s`, `max_retries`), TritonRequestRejected only for what the request causes."""
        # Hand-written, not tenacity (which deployments/bridge/emitter.py uses): the next step depends on
        # the failure's cause and the client's state — fail over to another endpoint first, wait for
        # readiness (polled, bounded by time, not counted as a retry), back off only for a full queue or a
        # timeout — and the counts feed RetryCounts; a retry policy object would hide that in callbacks.
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
