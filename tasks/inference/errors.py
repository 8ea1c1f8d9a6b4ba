"""Decide, from the cause, whether a failed Triton call may pass (retry it) or is the request's own
fault (fail its rows). One classifier for every Triton client.

The messages matched here are the exact ones Triton 2.51 (and gRPC) return, recorded from a real
server in tests/tasks/inference/test_errors.py:

- a server that starts, drains (SIGTERM) or reloads a model answers `Request for unknown model:
  'transcribe' has no available versions` (NOT_FOUND), `Server is stopping, scheduler for model has
  stopped accepting new inference requests` or `Server exiting` (UNAVAILABLE), then refuses connections;
- a crash resets the connection (`Stream removed (recvmsg:Connection reset by peer (104))`);
- a full queue answers `Exceeds maximum queue size` (UNAVAILABLE); a slow one `Deadline Exceeded`;
- our models answer bad input with INVALID_ARGUMENT and the reason (`undecodable audio ...`,
  `no translation model for pair xx-en ...`, `audio is 3.4 s long, over max_audio_s=...`);
  an error inside the model with INTERNAL.

Three kinds of outcome:

- TRANSIENT: a server state that passes. Retried with backoff; when the server or model is not
  ready (`waits_for_ready`), the client waits for its readiness instead of counting retries.
- INPUT: what the request carries causes it. Only these fail rows (TritonRequestRejected).
  INTERNAL errors count here only while the model stays ready (`check_ready`): a model that is
  going away makes them transient.
- SERVER: neither the row's fault nor a state that passes by itself (wrong model inputs, a
  batch over the model's max_batch_size, auth, an unimplemented call): the shard fails with the
  reason, no row is failed, a rerun after the fix redoes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tritonclient.utils import InferenceServerException


class Kind(StrEnum):
    TRANSIENT = "transient"
    INPUT = "input"
    SERVER = "server"


@dataclass(frozen=True)
class TritonFailure:
    """Why one Triton call failed: `kind`, a short `cause` name, the gRPC status and the message."""

    kind: Kind
    cause: str
    status: str | None
    message: str
    waits_for_ready: bool = False  # the server or model is not there: wait for readiness, then retry
    check_ready: bool = False  # INPUT only while the model stays ready (it may be going away)

    @property
    def transient(self) -> bool:
        return self.kind is Kind.TRANSIENT


# (cause, kind, waits_for_ready, pattern on the message): first match wins, before the status code
_MESSAGES: tuple[tuple[str, Kind, bool, re.Pattern], ...] = tuple(
    (cause, kind, waits, re.compile(pattern, re.IGNORECASE)) for cause, kind, waits, pattern in (
        # the model is not loaded (yet, any more): start-up, drain, unload/load, repository change
        ("model_not_ready", Kind.TRANSIENT, True,
         r"Request for unknown model|has no available versions|is not at ready state|Model version not ready"),
        ("server_stopping", Kind.TRANSIENT, True,
         r"Server is stopping|stopped accepting new inference requests|Server exiting|Server not ready"),
        # the python backend's stub process died with the server or is being restarted
        ("backend_restarting", Kind.TRANSIENT, True, r"Stub process .*(not healthy|is unhealthy)|stub .*restart"),
        ("connection", Kind.TRANSIENT, True,
         r"failed to connect|Connection refused|Connection reset|Stream removed|Socket closed|GOAWAY|"
         r"Broken pipe|connection attempt timed out|Transport closed"),
        ("overloaded", Kind.TRANSIENT, False, r"Exceeds maximum queue size|queue is full|too many requests"),
        # gRPC's own message-size limit: the same request would never fit
        ("request_too_large", Kind.INPUT, False, r"larger than max|message too large"),
        # Triton's own checks of the request's shape: the client's settings do not match the model
        ("model_mismatch", Kind.SERVER, False,
         r"batch-size must be <=|expected \d+ inputs but got|unexpected inference input|unexpected datatype|"
         r"unexpected shape for input|unexpected inference output|missing required input"),
    ))

# gRPC status code -> (cause, kind, waits_for_ready) when no message pattern matched
_CODES: dict[str, tuple[str, Kind, bool]] = {
    "UNAVAILABLE": ("connection", Kind.TRANSIENT, True),
    "DEADLINE_EXCEEDED": ("deadline", Kind.TRANSIENT, False),
    "RESOURCE_EXHAUSTED": ("overloaded", Kind.TRANSIENT, False),
    "ABORTED": ("aborted", Kind.TRANSIENT, False),
    "CANCELLED": ("connection", Kind.TRANSIENT, True),
    "NOT_FOUND": ("model_not_ready", Kind.TRANSIENT, True),
    "INVALID_ARGUMENT": ("bad_input", Kind.INPUT, False),
    "OUT_OF_RANGE": ("bad_input", Kind.INPUT, False),
    "UNIMPLEMENTED": ("unsupported_call", Kind.SERVER, False),
    "UNAUTHENTICATED": ("not_allowed", Kind.SERVER, False),
    "PERMISSION_DENIED": ("not_allowed", Kind.SERVER, False),
    "FAILED_PRECONDITION": ("model_mismatch", Kind.SERVER, False),
}


def status_name(exc: InferenceServerException) -> str | None:
    """`UNAVAILABLE` for tritonclient's `StatusCode.UNAVAILABLE`; None when the error has no code."""
    status = exc.status()
    return str(status).rsplit(".", 1)[-1] if status else None


def classify(exc: BaseException) -> TritonFailure | None:
    """The failure behind `exc`, or None when `exc` is not a failure of the call (a bug on our side:
    let it propagate as it is)."""
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError too
        return TritonFailure(Kind.TRANSIENT, "deadline", None, str(exc) or "client timeout")
    if isinstance(exc, ConnectionError):
        return TritonFailure(Kind.TRANSIENT, "connection", None, str(exc), waits_for_ready=True)
    if not isinstance(exc, InferenceServerException):
        return None
    status, message = status_name(exc), exc.message() or str(exc)
    for cause, kind, waits, pattern in _MESSAGES:
        if pattern.search(message):
            return TritonFailure(kind, cause, status, message, waits_for_ready=waits)
    if status in _CODES:
        cause, kind, waits = _CODES[status]
        return TritonFailure(kind, cause, status, message, waits_for_ready=waits)
    # INTERNAL, UNKNOWN, no code: the model failed on this request, unless the model is going away
    return TritonFailure(Kind.INPUT, "model_error", status, message, check_ready=True)
