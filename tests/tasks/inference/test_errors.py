"""Transient vs permanent Triton failures, by cause: the classifier against the exact status codes and
messages Triton 2.51 returned on this project's private server (recorded by provoking each state:
unknown model, model unloaded, SIGTERM drain, SIGKILL, a full queue, a client deadline, bad input
to our models), and the client's retry policy built on it (a scripted gRPC stand-in; the same states
on a real server are in tests/reliability/test_triton_restarts_quick.py)."""
from __future__ import annotations

import asyncio

import pytest
from tritonclient.utils import InferenceServerException

from tasks.inference.client import TritonCallSettings, TritonRequestRejected, TritonUnavailable
from tasks.inference.errors import Kind, classify
from tasks.inference.translate_client import TritonTranslateClient

# (gRPC status, exact message, kind, cause) as Triton 2.51 / gRPC answered them
RECORDED = [
    # draining after SIGTERM (to tritonserver or to its process group), in the order they came
    ("StatusCode.UNAVAILABLE", "[request id: <id_unknown>] Server is stopping, scheduler for model has stopped "
     "accepting new inference requests", Kind.TRANSIENT, "server_stopping"),
    ("StatusCode.UNAVAILABLE", "Server exiting", Kind.TRANSIENT, "server_stopping"),  # health/ready calls
    ("StatusCode.NOT_FOUND", "Request for unknown model: 'transcribe' has no available versions",
     Kind.TRANSIENT, "model_not_ready"),  # also while unloaded / loading in explicit model-control mode
    ("StatusCode.NOT_FOUND", "Request for unknown model: 'echo' has no available versions",
     Kind.TRANSIENT, "model_not_ready"),
    ("StatusCode.UNAVAILABLE", "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:38001: "
     "Failed to connect to remote host: Connection refused", Kind.TRANSIENT, "connection"),
    # SIGKILL with requests in flight
    ("StatusCode.UNAVAILABLE", "Stream removed (recvmsg:Connection reset by peer (104))", Kind.TRANSIENT,
     "connection"),
    # never loaded under that name (or a repository without it): not the row's fault, waited for then the shard fails
    ("StatusCode.NOT_FOUND", "Request for unknown model: 'nope' is not found", Kind.TRANSIENT, "model_not_ready"),
    # dynamic batcher with default_queue_policy { max_queue_size: 1 }, 12 concurrent requests
    ("StatusCode.UNAVAILABLE", "[request id: <id_unknown>] Exceeds maximum queue size", Kind.TRANSIENT,
     "overloaded"),
    ("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded", Kind.TRANSIENT, "deadline"),
    # our models: what the input causes
    ("StatusCode.INVALID_ARGUMENT", "no translation model for pair xx-en; available pairs: de-en, en-de, fr-en",
     Kind.INPUT, "bad_input"),
    ("StatusCode.INVALID_ARGUMENT", "parameter beam_size=999 is outside [1, 16]", Kind.INPUT, "bad_input"),
    ("StatusCode.INVALID_ARGUMENT", "undecodable audio (16 bytes): [Errno 1094995529] Invalid data found when "
     "processing input: '<none>'", Kind.INPUT, "bad_input"),
    ("StatusCode.INVALID_ARGUMENT", "audio is empty (0 bytes)", Kind.INPUT, "bad_input"),
    ("StatusCode.INVALID_ARGUMENT", "audio is 3.4 s long, over max_audio_s=0.5 (not transcribed)", Kind.INPUT,
     "bad_input"),
    ("StatusCode.INVALID_ARGUMENT", "row 2: undecodable audio (3 bytes): [Errno 1094995529] Invalid data found "
     "when processing input: '<none>'", Kind.INPUT, "bad_input"),
    # an exception inside our model code (seen while a model file was being edited): INPUT while the model is ready
    ("StatusCode.INTERNAL", "'WhisperEngine' object has no attribute 'transcribe'", Kind.INPUT, "model_error"),
    # Triton's own request checks: the client's settings do not fit the model; no row is at fault
    ("StatusCode.INVALID_ARGUMENT", "[request id: <id_unknown>] expected 3 inputs but got 1 inputs for model 'echo'. "
     "Got input(s) ['NOPE'], but missing required input(s) ['TEXT','SRC_LANG','TGT_LANG']. Please provide all "
     "required input(s).", Kind.SERVER, "model_mismatch"),
]


def server_error(status: str | None, message: str) -> InferenceServerException:
    return InferenceServerException(msg=message, status=status)


@pytest.mark.parametrize("status,message,kind,cause", RECORDED, ids=[f"{r[3]}-{i}" for i, r in enumerate(RECORDED)])
def test_recorded_triton_errors_are_classified_by_cause(status, message, kind, cause):
    failure = classify(server_error(status, message))
    assert (failure.kind, failure.cause) == (kind, cause)
    assert failure.status == status.removeprefix("StatusCode.")


def test_not_ready_states_wait_for_readiness_and_internal_errors_ask_it():
    waits = [classify(server_error(s, m)).waits_for_ready for s, m, _, cause in RECORDED
             if cause in ("server_stopping", "model_not_ready", "connection")]
    assert waits and all(waits)
    assert not classify(server_error("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded")).waits_for_ready
    assert classify(server_error("StatusCode.INTERNAL", "translation failed: boom")).check_ready
    assert not classify(server_error("StatusCode.INVALID_ARGUMENT", "audio is empty (0 bytes)")).check_ready


def test_client_side_errors():
    assert classify(TimeoutError()).kind is Kind.TRANSIENT
    assert classify(ConnectionResetError("reset")).cause == "connection"
    assert classify(ValueError("a bug of ours")) is None  # propagates as it is: no row fails for it
    assert classify(server_error("StatusCode.RESOURCE_EXHAUSTED", "Received message larger than max (3 vs. 2)")
                    ).kind is Kind.INPUT


# ---- the client's policy on top of the classifier -----------------------------------------------

class ScriptedTriton:
    """Stands in for tritonclient's aio client: each infer() takes the next step of `script`
    (an exception to raise, or "ok"); `ready` answers is_model_ready (a list is consumed per call)."""

    def __init__(self, script: list, ready: bool | list[bool] = True):
        self.script, self.ready, self.calls, self.ready_calls = list(script), ready, 0, 0

    async def infer(self, model_name, inputs, **_):
        self.calls += 1
        step = self.script.pop(0) if self.script else "ok"
        if step != "ok":
            raise step
        return f"result of {model_name}"

    async def is_model_ready(self, model_name, **_):
        self.ready_calls += 1
        if isinstance(self.ready, list):
            return self.ready.pop(0) if len(self.ready) > 1 else self.ready[0]
        return self.ready

    async def close(self):
        pass


DRAINING = server_error("StatusCode.NOT_FOUND", "Request for unknown model: 'echo' has no available versions")
STOPPING = server_error("StatusCode.UNAVAILABLE", "[request id: <id_unknown>] Server is stopping, scheduler for "
                                                  "model has stopped accepting new inference requests")
REFUSED = server_error("StatusCode.UNAVAILABLE", "failed to connect to all addresses; last error: UNKNOWN: "
                                                 "ipv4:127.0.0.1:38001: Failed to connect to remote host: "
                                                 "Connection refused")
DEADLINE = server_error("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded")
BAD_PAIR = server_error("StatusCode.INVALID_ARGUMENT", "no translation model for pair xx-en; available pairs: de-en")
INTERNAL = server_error("StatusCode.INTERNAL", "translation failed: boom")
MISMATCH = server_error("StatusCode.INVALID_ARGUMENT", "[request id: <id_unknown>] expected 3 inputs but got 1 "
                                                       "inputs for model 'echo'.")


def run(client_servers: list[ScriptedTriton], **settings):
    settings = {"model_name": "echo", "backoff_s": 0.001, "max_backoff_s": 0.002, "ready_timeout_s": 1.0,
                "url": ",".join(f"127.0.0.1:{38900 + i}" for i in range(len(client_servers))), **settings}

    async def go():
        servers = iter(client_servers)
        async with TritonTranslateClient(TritonCallSettings(**settings), connect=lambda _: next(servers)) as client:
            try:
                return await client._with_retries([], []), client
            except Exception as exc:
                return exc, client

    return asyncio.run(go())


def test_drain_then_restart_is_waited_for_and_served():
    server = ScriptedTriton([STOPPING, DRAINING, REFUSED], ready=[False, False, False, True])
    result, client = run([server], ready_timeout_s=5.0)
    assert result == "result of echo"
    assert client.retried.requests_retried == 1 and client.retried.failures == 3


def test_bad_input_fails_at_once_without_retries():
    server = ScriptedTriton([BAD_PAIR])
    result, _ = run([server])
    assert isinstance(result, TritonRequestRejected) and "no translation model for pair xx-en" in str(result)
    assert server.calls == 1 and server.ready_calls == 0
    assert result.__cause__ is BAD_PAIR  # rejection_reason() reads the model's own message from it


def test_internal_error_is_the_requests_while_the_model_stays_ready():
    result, _ = run([ScriptedTriton([INTERNAL], ready=True)])
    assert isinstance(result, TritonRequestRejected)
    server = ScriptedTriton([INTERNAL], ready=[False, False, True])  # the model was going away
    result, _ = run([server])
    assert result == "result of echo" and server.calls == 2


def test_a_server_that_stays_down_gives_up_after_ready_timeout_without_failing_rows():
    server = ScriptedTriton([REFUSED] * 1000, ready=False)
    result, _ = run([server], ready_timeout_s=0.3)
    assert isinstance(result, TritonUnavailable) and not isinstance(result, TritonRequestRejected)
    assert "not ready" in str(result) and "Connection refused" in str(result)


def test_timeouts_of_a_ready_server_are_retried_max_retries_times_after_asking_readiness():
    server = ScriptedTriton([DEADLINE] * 100, ready=True)
    result, _ = run([server], max_retries=3)
    assert isinstance(result, TritonUnavailable) and "while the model is ready" in str(result)
    assert server.calls == 4 and server.ready_calls >= 1


def test_settings_that_do_not_fit_the_model_fail_the_shard_not_the_rows():
    server = ScriptedTriton([MISMATCH])
    result, _ = run([server])
    assert isinstance(result, TritonUnavailable) and "model_mismatch" in str(result) and server.calls == 1


def test_failover_to_the_second_endpoint_during_a_rolling_restart():
    first = ScriptedTriton([STOPPING, REFUSED], ready=False)
    second = ScriptedTriton([])
    result, client = run([first, second])
    assert result == "result of echo" and first.calls == 1 and second.calls == 1
    assert client.retried.failovers == 1
    assert not client.endpoints.all[0].up() and client.endpoints.all[1].up(), "the failing endpoint is held out"


def test_both_endpoints_down_waits_for_whichever_is_ready_first():
    first = ScriptedTriton([REFUSED] * 50, ready=False)
    second = ScriptedTriton([REFUSED], ready=[False, False, True])
    result, client = run([first, second])
    assert result == "result of echo" and first.calls == 1 and second.calls == 2, "served where ready"


def test_bugs_of_ours_propagate_unchanged():
    result, _ = run([ScriptedTriton([KeyError("oops")])])
    assert isinstance(result, KeyError)


def test_endpoint_list():
    assert TritonCallSettings(url=" a:1, b:2 ,").urls == ["a:1", "b:2"]
    with pytest.raises(ValueError, match="no endpoint"):
        TritonTranslateClient(TritonCallSettings(url=" , "))
