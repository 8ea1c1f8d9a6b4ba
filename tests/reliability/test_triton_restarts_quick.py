"""Triton stopped the way a cluster stops it, shortened for `make test` (not marked chaos): two
private tritonservers on free ports (never the shared stack's), requests through the pipeline's own
clients while a model is unloaded and loaded again, while a server drains on SIGTERM and restarts,
and while two servers behind one endpoint list restart one at a time. No row may fail; the states
the server passes through must be classified as the recorded Triton 2.51 messages say.

The long versions, through whole flow runs on the chaos stack, are in test_triton_graceful_restart.py,
test_triton_model_reload.py and test_triton_rolling_restart.py (`make chaos`).
"""
from __future__ import annotations

import asyncio
import time

import pyarrow as pa
import pytest
import tritonclient.grpc.aio as grpcclient

from tasks.inference.client import TritonCallSettings
from tasks.inference.errors import Kind, classify
from tasks.inference.translate_client import TritonTranslateClient, _inputs
from tests.reliability.private_stack import SHARED_STORE, pick_ports
from tests.reliability.restart_workload import Workload, spoken_clips
from tests.reliability.triton_servers import TritonServer

pytestmark = [pytest.mark.integration]

NEEDS = (SHARED_STORE / "transcribe" / "whisper-tiny.en", SHARED_STORE / "translate")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from tests.reliability.triton_servers import REPO_ROOT

    if not (REPO_ROOT / ".venv-triton" / "bin" / "python").exists():
        pytest.skip(".venv-triton missing (run `make setup`)")
    if not all(path.exists() for path in NEEDS):
        pytest.skip("the shared model store lacks Whisper tiny.en or the translate models (run `make models`)")
    root = tmp_path_factory.mktemp("triton-restarts")
    first = TritonServer.start(root / "a", model_control_mode="explicit", models=("echo", "translate", "transcribe"))
    try:
        second = TritonServer.start(root / "b", models=("echo",))
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def settings(url: str, model: str, **kw) -> TritonCallSettings:
    return TritonCallSettings(url=url, model_name=model, ready_timeout_s=90.0, **kw)


def test_live_errors_are_classified_as_recorded(servers):
    server = servers[0]
    clip = spoken_clips(1)[0]
    free = pick_ports(base=server.grpc_port + 40)["triton_grpc_port"]

    async def failures() -> dict[str, object]:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        refused = grpcclient.InferenceServerClient(f"127.0.0.1:{free}")
        calls = {
            "bad_pair": client.infer("translate", _inputs(["Guten Morgen"], "xx", "en")),
            "unknown_model": client.infer("nope", _inputs(["x"], "de", "en")),
            "undecodable": client.infer("transcribe", [_audio_input(b"not audio at all")]),
            "deadline": client.infer("transcribe", [_audio_input(clip)], client_timeout=0.001),
            "refused": refused.infer("echo", _inputs(["x"], "de", "en"), client_timeout=5),
        }
        out = {}
        for name, call in calls.items():
            try:
                await call
                out[name] = None
            except Exception as exc:
                out[name] = exc
        await client.close()
        await refused.close()
        return out

    seen = asyncio.run(failures())
    expect = {"bad_pair": (Kind.INPUT, "bad_input", "INVALID_ARGUMENT"),
              "unknown_model": (Kind.TRANSIENT, "model_not_ready", "NOT_FOUND"),
              "undecodable": (Kind.INPUT, "bad_input", "INVALID_ARGUMENT"),
              "deadline": (Kind.TRANSIENT, "deadline", "DEADLINE_EXCEEDED"),
              "refused": (Kind.TRANSIENT, "connection", "UNAVAILABLE")}
    for name, (kind, cause, status) in expect.items():
        failure = classify(seen[name])
        assert (failure.kind, failure.cause, failure.status) == (kind, cause, status), (name, seen[name])
    assert seen["unknown_model"].message() == "Request for unknown model: 'nope' is not found"
    assert seen["bad_pair"].message().startswith("no translation model for pair xx-en; available pairs: ")
    assert seen["undecodable"].message().startswith("undecodable audio (16 bytes): ")


def _audio_input(clip: bytes):
    from tasks.inference.asr_client import _bytes_tensor

    return _bytes_tensor("AUDIO", [clip])


def run_during(workload: Workload, fault) -> dict:
    """Run `workload` until `fault` (a blocking function, run in a thread) has returned and one more
    round of requests went through; returns the workload's figures and the fault's own."""
    async def go():
        async with workload:
            runner = asyncio.create_task(workload.run())
            await asyncio.sleep(0.5)
            fault_figures = await asyncio.to_thread(fault)
            await workload.finish()
            await runner
            return workload.figures() | (fault_figures or {})

    return asyncio.run(go())


def assert_no_row_failed(figures: dict) -> None:
    print({k: v for k, v in figures.items() if k != "errors"})
    assert figures["rows_failed"] == 0, figures
    assert figures["errors"] == [], figures["errors"][:3]
    assert figures["rows_done"] > 0


def test_model_unloaded_and_loaded_mid_run(servers):
    server = servers[0]  # explicit model-control mode

    def reload_models() -> dict:
        started = time.monotonic()
        for model in ("echo", "transcribe"):
            server.unload(model)
        for model in ("echo", "transcribe"):
            server.wait_model(model, ready=False)
        time.sleep(2.0)
        for model in ("echo", "transcribe"):
            server.load(model)
        return {"models_gone_s": round(time.monotonic() - started, 1)}

    figures = run_during(Workload(settings(server.grpc_url, "echo"), settings(server.grpc_url, "transcribe",
                                                                              batch_size=2)), reload_models)
    assert_no_row_failed(figures)
    assert figures["requests_retried"] > 0, figures  # the reload was seen, and ridden out


def test_graceful_stop_and_restart_mid_run(servers):
    """SIGTERM (drain, unload, exit) and a restart under load, with translate-batch's per-batch function
    among the callers: every row comes back `ok` (before the classifier, the rows of the requests that
    met the drain were failed with "Request for unknown model: ... has no available versions")."""
    from tasks.translate.batch import TranslateSettings, translate_record_batch

    server = servers[1]
    record = pa.RecordBatch.from_pydict({"id": [f"r{i}" for i in range(32)],
                                         "text": [f"Satz {i}: Der Zug kommt heute an." for i in range(32)]})
    translate = TranslateSettings(text_column="text", id_column="id", target_lang="en", source_lang="de",
                                  triton=settings(server.grpc_url, "echo", batch_size=8, concurrency=2))
    statuses: list[str] = []

    def stop_and_restart() -> dict:
        how, stop_s = server.graceful_stop()
        time.sleep(1.0)
        return {"stopped_by": how, "stop_s": round(stop_s, 1), "restart_s": round(server.restart(), 1)}

    async def go():
        workload = Workload(settings(server.grpc_url, "echo"))
        async with workload, TritonTranslateClient(translate.triton) as client:
            runner = asyncio.create_task(workload.run())

            async def row_batches():
                while not fault.done():
                    out = await translate_record_batch(client, record, translate)
                    statuses.extend(out.column("status").to_pylist())
                    await asyncio.sleep(0.05)

            await asyncio.sleep(0.5)
            fault = asyncio.create_task(asyncio.to_thread(stop_and_restart))
            await row_batches()
            await workload.finish()
            await runner
            return workload.figures() | fault.result() | {"row_requests_retried": client.retried.requests_retried}

    figures = asyncio.run(go())
    assert figures["stopped_by"] != "SIGKILL"  # drained and exited on SIGTERM
    assert_no_row_failed(figures)
    assert set(statuses) == {"ok"}, set(statuses)
    assert figures["requests_retried"] > 0 and figures["row_requests_retried"] > 0, figures


def test_rolling_restart_behind_one_endpoint_list(servers):
    url = ",".join(s.grpc_url for s in servers)

    def rolling() -> dict:
        restarts = []
        for server in servers:
            server.graceful_stop()
            restarts.append(round(server.restart(), 1))
            time.sleep(0.5)
        return {"restart_s": restarts}

    figures = run_during(Workload(settings(url, "echo"), translate_loops=4), rolling)
    assert_no_row_failed(figures)
    assert figures["failovers"] > 0, figures

