"""Talk to Triton over gRPC. `TritonClient` holds what every model's client shares: the endpoints
of `settings.url` (tasks/inference/endpoints.py: one or several, comma-separated; calls spread round
robin over the endpoints that are up and, inside each, over every replica its name resolves to),
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

from tasks.inference.endpoints import Endpoint, Endpoints
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
    # gRPC target(s) of Triton: host:port or dns:///name:port; several, comma-separated: round robin over
    # those that are up (tasks/inference/endpoints.py)
    url: str = "127.0.0.1:8001"
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
    # a channel this old is replaced (make-before-break): its name is resolved afresh, new replicas join
    channel_max_age_s: float | None = 20.0

    @property
    def urls(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


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
    ready: Endpoint | None = None  # found ready by a readiness poll: the next attempt goes there


class TritonClient:
    """The endpoints of `settings.url` (tasks/inference/endpoints.py), at most `settings.concurrency`
    requests in flight (`_slots`), and `_with_retries` for a request. Use inside one event loop;
    `async with` closes the channels. `connect` makes a target's client (tests script a server)."""

    def __init__(self, settings: TritonCallSettings, connect=None):
        if not settings.urls:
            raise ValueError("TritonCallSettings.url names no endpoint")
        self.settings = settings
        self.urls = settings.urls
        self.endpoints = Endpoints(self.urls, settings.channel_max_age_s, **({"connect": connect} if connect else {}))
        self._slots = asyncio.Semaphore(settings.concurrency)
        self.retried = RetryCounts()

    async def close(self) -> None:
        await self.endpoints.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _with_retries(self, inputs, outputs, decoding: dict | None = None):
        """One inference on `settings.model_name`. Failures are classified (tasks/inference/errors.py):
        a server or model that is not ready is waited for (another endpoint that is up tried first),
        other transient ones retried with backoff; TritonUnavailable when that outlasts the bounds
        (`ready_timeout_s`, `max_retries`), TritonRequestRejected only for what the request causes."""
        # Hand-written, not tenacity (which deployments/bridge/emitter.py uses): the next step depends on
        # the failure's cause and the client's state — fail over to another endpoint first, wait for
        # readiness (polled, bounded by time, not counted as a retry), back off only for a full queue or a
        # timeout — and the counts feed RetryCounts; a retry policy object would hide that in callbacks.
        s = self.settings
        parameters = (s.decoding if decoding is None else decoding) or None
        attempts = _Attempts(rows=_rows(inputs))
        while True:
            endpoint, attempts.ready = attempts.ready or self.endpoints.pick(), None
            try:
                async with endpoint.call() as client:
                    result = await client.infer(
                        s.model_name, inputs, outputs=outputs, client_timeout=s.timeout_s, parameters=parameters)
            except Exception as exc:  # classified below; not a failure of the call: re-raised as is
                failure = classify(exc)
                if failure is None:
                    raise
                await self._after_failure(failure, exc, endpoint, attempts)
                continue
            endpoint.served()
            if attempts.failures:
                self._count_recovery(attempts, endpoint)
            return result

    async def _after_failure(self, failure: TritonFailure, exc: Exception, endpoint: Endpoint,
                             attempts: _Attempts) -> None:
        """Return to send the request again (after failing over, waiting or backing off), or raise."""
        s, url = self.settings, endpoint.target
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
        if len(self.endpoints) > 1:
            endpoint.failed()
            if attempts.failovers < len(self.endpoints) - 1 and self.endpoints.any_up_besides(endpoint):
                attempts.failovers += 1
                self.retried.failovers += 1
                log.warning("Triton call failed (%s); failing over to the other endpoints", what)
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

    async def _model_ready(self, endpoint: Endpoint) -> bool:
        try:
            return bool(await endpoint.client.is_model_ready(self.settings.model_name, client_timeout=5.0))
        except Exception:  # down, draining ("Server exiting"), unreachable: not ready
            return False

    async def _wait_until_ready(self, attempts: _Attempts, what: str) -> float | None:
        """Poll every endpoint's model readiness until one is ready (the next attempt goes there; every
        endpoint found ready is up again); the seconds waited (0: ready at the first poll), or None
        when `ready_timeout_s` is spent."""
        poll, started, logged = READY_POLL_S[0], time.monotonic(), False
        while True:
            for endpoint in self.endpoints.in_turn():
                if await self._model_ready(endpoint):
                    endpoint.ready_again()
                    attempts.ready = attempts.ready or endpoint
            if attempts.ready is not None:
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

    def _count_recovery(self, attempts: _Attempts, endpoint: Endpoint) -> None:
        counts = self.retried
        counts.requests_retried += 1
        counts.rows_retried += attempts.rows
        counts.failures += attempts.failures
        counts.waited_s += attempts.waited_s
        log.warning("Triton request of %d rows served by %s after %d failed attempts (%.1f s)", attempts.rows,
                    endpoint.target, attempts.failures, time.monotonic() - attempts.started)


def _rows(inputs) -> int:
    try:
        return int(inputs[0].shape()[0])
    except (IndexError, AttributeError, TypeError):
        return 0
